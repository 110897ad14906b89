package nfnet_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nfvk/nfvk/nfnet"
)

// A named variant: DeepMind's NFNet-F0, its parameters and the image
// sizes it trains and tests at.
func ExampleVariant() {
	cfg, err := nfnet.Variant("f0")
	if err != nil {
		log.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		log.Fatal(err)
	}
	trainSize, testSize, err := nfnet.VariantResolution("f0")
	if err != nil {
		log.Fatal(err)
	}
	macs, err := l.MACs(trainSize, trainSize)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d parameters, train %dpx, test %dpx, %.1f GMACs per %dpx image\n",
		cfg.Name, nfnet.CountParams(l.Params()), trainSize, testSize, float64(macs)/1e9, trainSize)
	// Output:
	// f0: 71489284 parameters, train 192px, test 256px, 7.0 GMACs per 192px image
}

// The model `make train` trains, built from its config, and its
// parameters initialised as a new run would (the same seed gives the same
// values on every machine).
func ExampleNewLayout() {
	l, err := nfnet.NewLayout(nfnet.Nano(1, 10)) // 1 channel (gray), 10 classes
	if err != nil {
		log.Fatal(err)
	}
	specs := l.Params()
	vals, err := nfnet.Init(specs, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d stages, %d parameter tensors, %d parameters\n",
		l.Config.Name, len(l.Config.Depths), len(specs), nfnet.CountParams(specs))
	fmt.Println(specs[0].Name, specs[0].Shape, len(vals[0]))
	// Output:
	// nano: 3 stages, 59 parameter tensors, 102221 parameters
	// stem.conv.weight [16 1 3 3] 144
}

// A model from a JSON config file (timm's NfCfg field names; unset fields
// keep DefaultConfig's values). An impossible value is a *FieldError
// naming the field.
func ExampleLoadConfig() {
	dir, err := os.MkdirTemp("", "config")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.json")
	cfgJSON := `{"name": "tiny", "in_chans": 3, "num_classes": 4, "depths": [1, 1], "channels": [32, 64]}`
	if err := os.WriteFile(path, []byte(cfgJSON), 0o644); err != nil {
		log.Fatal(err)
	}
	cfg, err := nfnet.LoadConfig(path)
	if err != nil {
		log.Fatal(err)
	}
	specs, err := nfnet.Params(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d parameters\n", cfg.Name, nfnet.CountParams(specs))

	bad := `{"name": "bad", "in_chans": 3, "num_classes": 4, "depths": [1, 0], "channels": [32, 64]}`
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		log.Fatal(err)
	}
	_, err = nfnet.LoadConfig(path)
	var fe *nfnet.FieldError
	if errors.As(err, &fe) {
		fmt.Printf("%s: %s\n", fe.Field, fe.Problem)
	}
	// Output:
	// tiny: 20452 parameters
	// depths[1]: 0: every stage needs at least one block
}
