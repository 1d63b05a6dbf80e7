//go:build !linux

package calllog

import "os"

func syncData(f *os.File) error { return f.Sync() }
