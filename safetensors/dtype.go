package safetensors

// DType names the element type of a tensor exactly as it is spelled in a
// safetensors header ("F32", "I64", ...).
type DType string

// The element types this package reads and writes. The Go names carry a
// DType prefix because F32 and I64 name the Tensor helpers.
const (
	DTypeF64  DType = "F64"
	DTypeF32  DType = "F32"
	DTypeF16  DType = "F16"
	DTypeBF16 DType = "BF16"
	DTypeI64  DType = "I64"
	DTypeI32  DType = "I32"
	DTypeI16  DType = "I16"
	DTypeI8   DType = "I8"
	DTypeU64  DType = "U64"
	DTypeU32  DType = "U32"
	DTypeU16  DType = "U16"
	DTypeU8   DType = "U8"
	DTypeBool DType = "BOOL"
)

// dtypeSizes maps every supported DType to its element size in bytes.
var dtypeSizes = map[DType]int{
	DTypeF64: 8, DTypeF32: 4, DTypeF16: 2, DTypeBF16: 2,
	DTypeI64: 8, DTypeI32: 4, DTypeI16: 2, DTypeI8: 1,
	DTypeU64: 8, DTypeU32: 4, DTypeU16: 2, DTypeU8: 1,
	DTypeBool: 1,
}

// Size returns the size of one element in bytes, or 0 if d is not a dtype
// this package supports.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a dtype this package supports.
func (d DType) Valid() bool { return d.Size() > 0 }

// String returns the header spelling of d.
func (d DType) String() string { return string(d) }
