package app

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/strata-gateway/strata/internal/config"
)

// Sizing of the limits general_settings leaves to the machine.
const (
	// inFlightPerCPU requests at once per CPU: most of a request's life is
	// spent waiting for Bedrock, so a core keeps many busy.
	inFlightPerCPU = 1000
	// fdsPerRequest is what a request may hold: its client's connection
	// and one to Bedrock. Some descriptors are kept for everything else.
	fdsPerRequest = 2
	fdsSpare      = 64
	// bodyMemoryShare of the memory the process may use is the budget of
	// request body bytes in flight. A body costs a few times its size once
	// decoded and translated, and the heap may grow to twice what is live
	// before it is collected.
	bodyMemoryShare = 32
	// assumedMemory stands in when the machine's memory cannot be read.
	assumedMemory = 4 << 30
)

// servingLimits returns the bound on requests in flight and the budget of
// request body bytes in flight: the configured ones, or ones sized for the
// machine.
func servingLimits(s config.Settings) (maxInFlight int, maxBodyBytes int64) {
	if s.MaxInFlight != nil {
		maxInFlight = *s.MaxInFlight
	} else {
		maxInFlight = inFlightPerCPU * runtime.GOMAXPROCS(0)
		var fds syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &fds) == nil && fds.Cur < math.MaxInt32 {
			maxInFlight = max(1, min(maxInFlight, (int(fds.Cur)-fdsSpare)/fdsPerRequest))
		}
	}
	maxBodyBytes = s.MaxBodyBytesInFlight
	if maxBodyBytes == 0 {
		// Room for two bodies of the largest size at least, or none of that
		// size could ever be taken while another is read.
		maxBodyBytes = max(usableMemory()/bodyMemoryShare, 2*s.MaxRequestBytes)
	}
	return maxInFlight, maxBodyBytes
}

// usableMemory is the memory the process may use: the least of GOMEMLIMIT,
// the cgroup's limit and the machine's memory.
func usableMemory() int64 {
	limit := int64(math.MaxInt64)
	if soft := debug.SetMemoryLimit(-1); soft > 0 {
		limit = soft
	}
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(path); err == nil {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && n > 0 {
				limit = min(limit, n)
			}
		}
	}
	if total := physicalMemory(); total > 0 {
		limit = min(limit, total)
	}
	if limit == math.MaxInt64 {
		return assumedMemory
	}
	return limit
}

// physicalMemory reads MemTotal from /proc/meminfo; 0 if it cannot.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemTotal:"))
		if !ok {
			continue
		}
		kb, ok := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(kb)), 10, 64); ok && err == nil {
			return n << 10
		}
	}
	return 0
}
