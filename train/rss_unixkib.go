//go:build unix && !darwin

package train

// rssInBytes: Linux and the BSDs report ru_maxrss in KiB.
const rssInBytes = false
