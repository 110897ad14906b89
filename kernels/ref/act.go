package ref

import (
	"fmt"
	"math"
)

// NFNet activation gammas, copied verbatim from DeepMind's nfnets/base.py:
// act(v) = gamma * f(v) keeps unit variance for v ~ N(0, 1). The same GELU
// gamma is used with the tanh form (DeepMind) and the erf form (timm dm_).
const (
	GammaGELU     = 1.7015043497085571
	GammaReLU     = 1.7139588594436646
	GammaSiLU     = 1.7881293296813965
	GammaELU      = 1.2716004848480225
	GammaTanh     = 1.5939117670059204
	GammaSigmoid  = 4.803835391998291
	GammaIdentity = 1.0
)

// Act names an elementwise nonlinearity f.
type Act int

const (
	ActIdentity Act = iota // f(x) = x
	ActReLU                // f(x) = max(x, 0); f'(0) = 0
	ActGELUTanh            // 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), jax.nn.gelu's default
	ActGELUErf             // 0.5x(1 + erf(x/sqrt(2))), PyTorch's exact GELU
	ActSiLU                // x * sigmoid(x)
	ActSigmoid             // 1 / (1 + exp(-x))
	ActELU                 // x > 0 ? x : exp(x) - 1
	ActTanh                // tanh(x)
)

var actNames = [...]string{"identity", "relu", "gelu_tanh", "gelu_erf", "silu", "sigmoid", "elu", "tanh"}

func (a Act) String() string {
	if a >= 0 && int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

// Gamma is NFNet's gamma for f (GammaGELU for both GELU forms). The
// squeeze-excite ReLU and sigmoid use gamma 1, not this.
func (a Act) Gamma() float64 {
	switch a {
	case ActIdentity:
		return GammaIdentity
	case ActReLU:
		return GammaReLU
	case ActGELUTanh, ActGELUErf:
		return GammaGELU
	case ActSiLU:
		return GammaSiLU
	case ActSigmoid:
		return GammaSigmoid
	case ActELU:
		return GammaELU
	case ActTanh:
		return GammaTanh
	}
	panic(fmt.Sprintf("activation: unknown %v", a))
}

// sigmoid is 1/(1+exp(-x)), computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

const (
	sqrt2OverPi = 0.7978845608028654 // sqrt(2/pi)
	geluTanhC   = 0.044715
	invSqrt2    = 0.7071067811865476 // 1/sqrt(2)
	invSqrt2Pi  = 0.3989422804014327 // 1/sqrt(2*pi)
	geluTanh3C  = 3 * geluTanhC
)

// F is f(x) in float64.
func (a Act) F(x float64) float64 {
	switch a {
	case ActIdentity:
		return x
	case ActReLU:
		return max(x, 0)
	case ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+geluTanhC*x*x*x)))
	case ActGELUErf:
		return 0.5 * x * (1 + math.Erf(x*invSqrt2))
	case ActSiLU:
		return x * sigmoid(x)
	case ActSigmoid:
		return sigmoid(x)
	case ActELU:
		if x > 0 {
			return x
		}
		return math.Expm1(x)
	case ActTanh:
		return math.Tanh(x)
	}
	panic(fmt.Sprintf("activation: unknown %v", a))
}

// DF is f'(x) in float64.
func (a Act) DF(x float64) float64 {
	switch a {
	case ActIdentity:
		return 1
	case ActReLU:
		if x > 0 {
			return 1
		}
		return 0
	case ActGELUTanh:
		t := math.Tanh(sqrt2OverPi * (x + geluTanhC*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+geluTanh3C*x*x)
	case ActGELUErf:
		return 0.5*(1+math.Erf(x*invSqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
	case ActSiLU:
		sg := sigmoid(x)
		return sg * (1 + x*(1-sg))
	case ActSigmoid:
		sg := sigmoid(x)
		return sg * (1 - sg)
	case ActELU:
		if x > 0 {
			return 1
		}
		return math.Exp(x)
	case ActTanh:
		t := math.Tanh(x)
		return 1 - t*t
	}
	panic(fmt.Sprintf("activation: unknown %v", a))
}

// Activate computes y = gamma * f(x) elementwise (pass gamma = a.Gamma() for
// NFNet's scaled activations, 1 for plain ones). y may alias x.
func Activate[T Float](a Act, gamma float64, x, y []T) {
	checkLen("activate "+a.String(), "y", len(y), len(x))
	for i, v := range x {
		y[i] = T(gamma * a.F(float64(v)))
	}
}

// ActivateBackward computes dx = gamma * f'(x) * dy from the forward input x.
// dx may alias dy.
func ActivateBackward[T Float](a Act, gamma float64, x, dy, dx []T) {
	checkLen("activate backward "+a.String(), "dy", len(dy), len(x))
	checkLen("activate backward "+a.String(), "dx", len(dx), len(x))
	for i, v := range x {
		dx[i] = T(gamma * a.DF(float64(v)) * float64(dy[i]))
	}
}
