package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"

	"github.com/nfvk/nfvk/nfnet"
)

// validate checks everything about c that does not depend on where it is
// stored. Save and Load share it, so nothing Save accepts fails to load.
func (c *Checkpoint) validate() error {
	switch {
	case c.Step < 0:
		return fmt.Errorf("step %d is negative", c.Step)
	case c.StepsPerEpoch <= 0:
		return fmt.Errorf("steps_per_epoch %d, want > 0", c.StepsPerEpoch)
	case c.Position.Epoch < 0 || c.Position.Step < 0 || c.Position.Step >= c.StepsPerEpoch:
		return fmt.Errorf("position %+v out of range for %d steps per epoch", c.Position, c.StepsPerEpoch)
	case c.Epoch != c.Position.Epoch:
		return fmt.Errorf("epoch %d differs from position's epoch %d", c.Epoch, c.Position.Epoch)
	case c.Step != int64(c.Position.Epoch)*int64(c.StepsPerEpoch)+int64(c.Position.Step):
		return fmt.Errorf("step %d is not position %+v at %d steps per epoch", c.Step, c.Position, c.StepsPerEpoch)
	case c.Run != nil && !json.Valid(c.Run):
		return errors.New("run options are not valid JSON")
	}
	if err := c.Summary.validate(); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if len(c.Params) == 0 {
		return errors.New("no parameters")
	}
	for _, fam := range c.families() {
		for _, name := range slices.Sorted(maps.Keys(fam.m)) {
			t := fam.m[name]
			if err := t.check(); err != nil {
				return fmt.Errorf("tensor %q: %w", fam.prefix+name, err)
			}
			if fam.prefix == prefixParam {
				continue
			}
			p, ok := c.Params[name]
			if !ok {
				return fmt.Errorf("tensor %q has no parameter %q", fam.prefix+name, prefixParam+name)
			}
			if !slices.Equal(p.Shape, t.Shape) {
				return fmt.Errorf("tensor %q has shape %v, but %q has %v", fam.prefix+name, t.Shape, prefixParam+name, p.Shape)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		for _, fam := range c.families()[1:] {
			if _, ok := fam.m[name]; !ok {
				return fmt.Errorf("parameter %q has no %s twin %q", prefixParam+name, fam.what, fam.prefix+name)
			}
		}
	}
	specs, err := nfnet.Params(c.Config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.compareSpecs(specs); err != nil {
		return fmt.Errorf("tensors do not match the stored config: %w", err)
	}
	return nil
}

func (t Tensor) check() error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
		if d > 0 && n > math.MaxInt/d {
			return fmt.Errorf("shape %v overflows", t.Shape)
		}
		n *= d
	}
	if len(t.Data) != n {
		return fmt.Errorf("%d values for shape %v (%d)", len(t.Data), t.Shape, n)
	}
	return nil
}

// compareSpecs reports the first difference between the parameters and
// specs: specs in their order (the model's), then any extra parameter in
// name order.
func (c *Checkpoint) compareSpecs(specs []nfnet.ParamSpec) error {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		seen[s.Name] = true
		t, ok := c.Params[s.Name]
		if !ok {
			return fmt.Errorf("tensor %q (shape %v) of the model is missing", prefixParam+s.Name, s.Shape)
		}
		if !sameShape(t.Shape, s.Shape) {
			return fmt.Errorf("tensor %q has shape %v, the model's has %v", prefixParam+s.Name, t.Shape, s.Shape)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		if !seen[name] {
			return fmt.Errorf("tensor %q is not a parameter of the model", prefixParam+name)
		}
	}
	return nil
}

// sameShape treats nil and empty shapes alike: both are 0-d scalars.
func sameShape(a, b []int) bool { return len(a) == len(b) && slices.Equal(a, b) }

// CheckCompatible reports whether c can be loaded into the model given by
// cfg and its parameter specs (nfnet.Params(cfg)): the same parameter names
// with the same shapes, and the same config apart from its free-form name.
// The error names the checkpoint's file (c.Path) and the first mismatching
// tensor, in the model's parameter order, or config field, and wraps
// ErrIncompatible.
//
// Config fields that change no shape (the activation, alpha, drop rates)
// are compared too, because resuming or evaluating with them changed would
// silently train or test another function than the checkpoint's.
func (c *Checkpoint) CheckCompatible(cfg nfnet.Config, specs []nfnet.ParamSpec) error {
	where := c.Path
	if where == "" {
		where = "(not loaded from a file)"
	}
	if err := c.compareSpecs(specs); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w: %w", where, err, ErrIncompatible)
	}
	if field, ck, model, ok := configDiff(c.Config, cfg); !ok {
		return fmt.Errorf("train: checkpoint %s: config field %q is %s in the checkpoint, %s in the model: %w",
			where, field, ck, model, ErrIncompatible)
	}
	return nil
}

// configDiff returns the first JSON field (in name order) where a and b
// differ, ignoring "name", and both values as JSON.
func configDiff(a, b nfnet.Config) (field, va, vb string, same bool) {
	ma, mb := configMap(a), configMap(b)
	keys := slices.Sorted(maps.Keys(ma))
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if k == "name" || reflect.DeepEqual(ma[k], mb[k]) {
			continue
		}
		ja, _ := json.Marshal(ma[k])
		jb, _ := json.Marshal(mb[k])
		return k, string(ja), string(jb), false
	}
	return "", "", "", true
}

func configMap(c nfnet.Config) map[string]any {
	raw, _ := json.Marshal(c) // a Config holds no unencodable values
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}
