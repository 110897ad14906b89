package train

// rssInBytes: macOS reports ru_maxrss in bytes.
const rssInBytes = true
