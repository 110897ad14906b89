package nfnet

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadSmall(t *testing.T) Config {
	t.Helper()
	cfg, err := LoadConfig(fixturePath(t, "small_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestParseSmallConfig(t *testing.T) {
	cfg := loadSmall(t)
	want := Config{
		Name: "timm-small-reference", InChans: 1, NumClasses: 10,
		Depths: []int{1, 1, 2, 1}, Channels: []int{64, 128, 256, 256},
		Alpha: 0.2, StemType: "deep_quad", StemChs: 32, GroupSize: 16, BottleRatio: 0.5,
		AttnLayer: "se", AttnRdRatio: 0.5, AttnRdDivisor: 8, AttnGain: 2, WidthFactor: 1,
		NumFeatures: 512, ChDiv: 8, ExtraConv: true, Skipinit: true, ActLayer: "gelu",
		GammaInAct: true, SamePadding: true, StdConv: StdConvTimm, StdConvEps: 1e-5,
		DropPathMode: DropPathDeepMind, ParamNames: NamesTimm,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", cfg, want)
	}
}

// TestConfigRoundTrip checks that every variant and the fixture survive
// JSON encoding unchanged.
func TestConfigRoundTrip(t *testing.T) {
	cfgs := []Config{loadSmall(t)}
	for _, v := range Variants() {
		c, err := Variant(v)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, c)
	}
	for _, c := range cfgs {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(data)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip changed\n%+v\nto\n%+v", c.Name, c, back)
		}
	}
}

func TestStdConvEpsDefault(t *testing.T) {
	tests := []struct {
		json string
		want float64
	}{
		{`{"depths":[1],"channels":[64]}`, 1e-5},
		{`{"depths":[1],"channels":[64],"std_conv":"timm"}`, 1e-5},
		{`{"depths":[1],"channels":[64],"std_conv":"deepmind"}`, 1e-4},
		{`{"depths":[1],"channels":[64],"std_conv":"deepmind","std_conv_eps":1e-3}`, 1e-3},
	}
	for _, tc := range tests {
		cfg, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if cfg.StdConvEps != tc.want {
			t.Errorf("%s: std_conv_eps %v, want %v", tc.json, cfg.StdConvEps, tc.want)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, json, wantInErr string
	}{
		{"unknown field", `{"depths":[1],"channels":[64],"depth_mult":2}`, "depth_mult"},
		{"wrong type", `{"depths":"1","channels":[64]}`, "depths"},
		{"trailing data", `{"depths":[1],"channels":[64]} {}`, "trailing"},
		{"empty", ``, "parse config"},
		{"invalid", `{"depths":[1],"channels":[0]}`, "channels[0]"},
	}
	for _, tc := range tests {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.wantInErr)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file: %v, want a wrapped not-exist error", err)
	}
}

// TestValidateRejects mutates a valid config and checks the error names the
// offending field.
func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string
	}{
		{"negative depth", func(c *Config) { c.Depths[1] = -1 }, "depths[1]"},
		{"zero depth", func(c *Config) { c.Depths[3] = 0 }, "depths[3]"},
		{"no stages", func(c *Config) { c.Depths, c.Channels = nil, nil }, "depths"},
		{"width count", func(c *Config) { c.Channels = c.Channels[:3] }, "channels"},
		{"zero width", func(c *Config) { c.Channels[0] = 0 }, "channels[0]"},
		{"group wider than bottleneck", func(c *Config) { c.GroupSize = 48 }, "group_size"},
		{"groups do not divide bottleneck", func(c *Config) { c.GroupSize = 12; c.Channels[0] = 80 }, "group_size"},
		{"negative group size", func(c *Config) { c.GroupSize = -16 }, "group_size"},
		{"unknown act", func(c *Config) { c.ActLayer = "swish" }, "act_layer"},
		{"unknown stem", func(c *Config) { c.StemType = "5x5" }, "stem_type"},
		{"stem too narrow", func(c *Config) { c.ChDiv = 1; c.StemChs = 4 }, "stem_chs"},
		{"negative stem", func(c *Config) { c.StemChs = -1 }, "stem_chs"},
		{"unknown std conv", func(c *Config) { c.StdConv = "torch" }, "std_conv"},
		{"zero eps", func(c *Config) { c.StdConvEps = 0 }, "std_conv_eps"},
		{"nan alpha", func(c *Config) { c.Alpha = math.NaN() }, "alpha"},
		{"negative alpha", func(c *Config) { c.Alpha = -0.2 }, "alpha"},
		{"drop rate 1", func(c *Config) { c.DropRate = 1 }, "drop_rate"},
		{"negative drop path", func(c *Config) { c.DropPathRate = -0.1 }, "drop_path_rate"},
		{"unsupported attn", func(c *Config) { c.AttnLayer = "eca" }, "attn_layer"},
		{"zero rd ratio", func(c *Config) { c.AttnRdRatio = 0 }, "attn_rd_ratio"},
		{"zero rd divisor", func(c *Config) { c.AttnRdDivisor = 0 }, "attn_rd_divisor"},
		{"inf attn gain", func(c *Config) { c.AttnGain = math.Inf(1) }, "attn_gain"},
		{"no input channels", func(c *Config) { c.InChans = 0 }, "in_chans"},
		{"no classes", func(c *Config) { c.NumClasses = 0 }, "num_classes"},
		{"zero ch_div", func(c *Config) { c.ChDiv = 0 }, "ch_div"},
		{"zero width factor", func(c *Config) { c.WidthFactor = 0 }, "width_factor"},
		{"zero bottle ratio", func(c *Config) { c.BottleRatio = 0 }, "bottle_ratio"},
		{"negative features", func(c *Config) { c.NumFeatures = -1 }, "num_features"},
		{"unknown drop path mode", func(c *Config) { c.DropPathMode = "linear" }, "drop_path_mode"},
		{"unknown names", func(c *Config) { c.ParamNames = "keras" }, "param_names"},
		{"stride above 32", func(c *Config) {
			c.StemType = "3x3"
			c.Depths = []int{1, 1, 1, 1, 1}
			c.Channels = []int{64, 64, 64, 64, 64}
		}, "depths"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadSmall(t)
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", cfg)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !hasField(err, tc.field) {
				t.Fatalf("error %q does not name field %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q lacks %s", err, tc.field)
			}
			if _, err := NewLayout(cfg); err == nil {
				t.Error("NewLayout accepted the invalid config")
			}
			if _, err := Params(cfg); err == nil {
				t.Error("Params accepted the invalid config")
			}
			if _, err := MACs(cfg, 32, 32); err == nil {
				t.Error("MACs accepted the invalid config")
			}
		})
	}
}

// hasField reports whether err (possibly joined) holds a FieldError for
// field.
func hasField(err error, field string) bool {
	if fe, ok := err.(*FieldError); ok {
		return fe.Field == field
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if hasField(e, field) {
				return true
			}
		}
	}
	return false
}

func TestValidateReportsEveryField(t *testing.T) {
	cfg := loadSmall(t)
	cfg.ActLayer = "swish"
	cfg.Depths[0] = -2
	cfg.DropRate = 2
	err := cfg.Validate()
	for _, f := range []string{"act_layer", "depths[0]", "drop_rate"} {
		if !hasField(err, f) {
			t.Errorf("error %q misses field %s", err, f)
		}
	}
}

// TestActivationGammas checks the spec's constants verbatim.
func TestActivationGammas(t *testing.T) {
	want := map[string]float64{
		"gelu":     1.7015043497085571,
		"relu":     1.7139588594436646,
		"silu":     1.7881293296813965,
		"elu":      1.2716004848480225,
		"tanh":     1.5939117670059204,
		"sigmoid":  4.803835391998291,
		"identity": 1,
	}
	for name, g := range want {
		got, ok := ActivationGamma(name)
		if !ok || got != g {
			t.Errorf("ActivationGamma(%q) = %v, %v; want %v", name, got, ok, g)
		}
	}
	if _, ok := ActivationGamma("swish"); ok {
		t.Error("swish has no gamma but was accepted")
	}
	if n := len(Activations()); n != len(activationGammas) {
		t.Errorf("Activations lists %d names, table has %d", n, len(activationGammas))
	}
}

func TestMakeDivisible(t *testing.T) {
	tests := []struct {
		v          float64
		div        int
		roundLimit float64
		want       int
	}{
		{32, 8, 0.9, 32},
		{36, 8, 0.9, 40},   // rounds to nearest
		{35, 8, 0.9, 32},   // 32 >= 0.9*35
		{35.9, 8, 0.9, 40}, // 32 < 0.9*35.9: bumped
		{3, 8, 0.9, 8},     // at least one divisor
		{17, 16, 0.9, 16},
		{9.5, 8, 0.9, 16}, // 8 < 0.9*9.5: bumped
		{12, 8, 0, 16},
		{768, 1, 0.9, 768},
	}
	for _, tc := range tests {
		if got := makeDivisible(tc.v, tc.div, tc.roundLimit); got != tc.want {
			t.Errorf("makeDivisible(%v, %d, %v) = %d, want %d", tc.v, tc.div, tc.roundLimit, got, tc.want)
		}
	}
}
