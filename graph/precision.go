package graph

import (
	"fmt"
	"strings"
)

// Precision is how a step stores its activations: FP32 stores every
// tensor as float32 (the default); FP16 stores activations and their
// gradients as float16 and keeps parameters, their gradients and the
// optimizer state in float32 (mixed precision, README "Mixed
// precision"); BF16 does the same with bfloat16, float32's range at 8
// bits of precision, which needs no loss scaling.
type Precision uint8

const (
	// FP32 stores everything as float32.
	FP32 Precision = iota
	// FP16 stores activations and activation gradients as float16.
	FP16
	// BF16 stores activations and activation gradients as bfloat16.
	BF16
)

var precisionNames = [...]string{"fp32", "fp16", "bf16"}

func (p Precision) String() string {
	if int(p) < len(precisionNames) {
		return precisionNames[p]
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision parses "fp32", "fp16" or "bf16" (case-insensitive; ""
// is fp32).
func ParsePrecision(s string) (Precision, error) {
	if s == "" {
		return FP32, nil
	}
	for i, n := range precisionNames {
		if strings.EqualFold(s, n) {
			return Precision(i), nil
		}
	}
	return FP32, fmt.Errorf("precision %q: want one of %s", s, strings.Join(precisionNames[:], ", "))
}

// ActivationDType is the storage type of activations under p.
func (p Precision) ActivationDType() DType {
	switch p {
	case FP16:
		return Float16
	case BF16:
		return BFloat16
	}
	return Float32
}

// Size is the bytes of one element.
func (d DType) Size() int64 {
	if d.is16() {
		return 2
	}
	return 4
}

// is16 reports whether d is a 16-bit activation storage type.
func (d DType) is16() bool { return d == Float16 || d == BFloat16 }
