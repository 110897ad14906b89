package nfnet

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/safetensors"
)

// TestLoadWeightsErrors checks that a missing tensor, a wrong shape and a
// NaN are reported by name.
func TestLoadWeightsErrors(t *testing.T) {
	l := mustLayout(t, loadSmall(t))
	weights, err := LoadWeights(fixturePath(t, "small_params.safetensors"), l)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var ts []safetensors.Tensor
	for _, sp := range l.Params() {
		switch sp.Name {
		case "stem.conv1.weight":
			continue // missing
		case "final_conv.bias":
			ts = append(ts, safetensors.F32(sp.Name, []int{sp.Shape[0] - 1}, weights[sp.Name][1:]))
		case "head.fc.weight":
			v := slices.Clone(weights[sp.Name])
			v[5] = float32(math.NaN())
			ts = append(ts, safetensors.F32(sp.Name, sp.Shape, v))
		default:
			ts = append(ts, safetensors.F32(sp.Name, sp.Shape, weights[sp.Name]))
		}
	}
	p := filepath.Join(dir, "bad.safetensors")
	if err := safetensors.WriteFile(p, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, err = LoadWeights(p, l)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"missing tensor stem.conv1.weight", "final_conv.bias has shape [511]", "head.fc.weight holds NaN at index 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := LoadWeights(filepath.Join(dir, "absent.safetensors"), l); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// TestBuildErrors checks that configs nfvk cannot compute, and inputs
// that do not fit, fail at build time with an error naming the cause.
func TestBuildErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		input []int
		want  string
	}{
		{"max pool stem", func(c *Config) { c.StemType = "deep_pool" }, nil, `"deep_pool" ends in a max pool`},
		{"activation without kernel", func(c *Config) { c.ActLayer = "celu" }, nil, `act_layer: "celu" has no kernel`},
		{"deepmind eps", func(c *Config) { c.StdConv, c.StdConvEps = StdConvDeepMind, 1e-5 }, nil, "std_conv_eps"},
		{"input channels", func(c *Config) {}, []int{2, 1, 28, 28}, "want [N, 3 (in_chans), H, W]"},
		{"input rank", func(c *Config) {}, []int{2, 3, 28}, "want [N, 3 (in_chans), H, W]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Nano(3, 5)
			c.edit(&cfg)
			l, err := NewLayout(cfg)
			if err != nil {
				t.Fatal(err)
			}
			in := c.input
			if in == nil {
				in = []int{2, 3, 28, 28}
			}
			g := graph.New()
			x, err := g.Input("input", graph.Shape(in))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Build(g, l, x, BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
