//go:build !linux

package runner

// oomKills is unknown outside Linux.
func oomKills() int64 { return -1 }
