// Package nfnet describes Normalizer-Free ResNets (NFNets) without touching
// a GPU: the model Config (timm's NfCfg field names, JSON-loadable and
// validated), the named variants (DeepMind's F0..F7 and F0+..F7+, timm's
// dm_nfnet_f0..f6), the Layout the graph builder walks (stem convs, blocks
// with their widths, groups, strides, beta and alpha, shortcuts, SE and
// drop-path rates, final conv, head, padding rules), the parameter specs
// with timm's names and layouts, their initialisation, MAC counts, weight
// I/O, and the graphs a session runs: the forward pass (Build, BuildEval)
// and the training step (BuildTrain: loss, gradients, the fused AGC + SGD
// update and the weight EMA as graph ops). It imports no GPU API: package
// graph/gpu compiles what it builds, and it builds with CGO_ENABLED=0.
//
// The architecture facts come from /shared/spec/NFNET.md: DeepMind's
// deepmind-research nfnets code is the default behaviour, timm's
// timm/models/nfnet.py the behaviour needed for timm weights.
package nfnet
