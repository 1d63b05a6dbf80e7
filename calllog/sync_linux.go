package calllog

import (
	"os"
	"syscall"
)

// syncData is fdatasync: the data and the size, not the timestamps.
func syncData(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
