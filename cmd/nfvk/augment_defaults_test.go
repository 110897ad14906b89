package main

import (
	"testing"

	"github.com/nfvk/nfvk/train"
)

func TestAugmentationDefaults(t *testing.T) {
	cases := []struct {
		dataset string
		set     map[string]bool
		flip    bool // the flag's value when set
		crop    int
		want    train.Recipe // only HFlip and CropPad are compared
	}{
		{dataset: "fashion-mnist", want: train.Recipe{HFlip: false, CropPad: 0}},
		{dataset: "mnist", want: train.Recipe{HFlip: false, CropPad: 0}},
		{dataset: "cifar10", want: train.Recipe{HFlip: true, CropPad: 2}},
		{dataset: "folder", want: train.Recipe{HFlip: true, CropPad: 0}},
		{dataset: "shards", want: train.Recipe{HFlip: true, CropPad: 0}},
		{dataset: "fashion-mnist", set: map[string]bool{"hflip": true, "crop-pad": true}, flip: true, crop: 2,
			want: train.Recipe{HFlip: true, CropPad: 2}},
		{dataset: "cifar10", set: map[string]bool{"hflip": true, "crop-pad": true}, flip: false, crop: 0,
			want: train.Recipe{HFlip: false, CropPad: 0}},
	}
	for _, c := range cases {
		rec := train.NanoRecipe()
		if c.set["hflip"] {
			rec.HFlip = c.flip
		}
		if c.set["crop-pad"] {
			rec.CropPad = c.crop
		}
		augmentationDefaults(&rec, c.dataset, c.set)
		if rec.HFlip != c.want.HFlip || rec.CropPad != c.want.CropPad {
			t.Errorf("%s, flags set %v: hflip %v crop-pad %d, want %v %d", c.dataset, c.set, rec.HFlip, rec.CropPad, c.want.HFlip, c.want.CropPad)
		}
	}
}
