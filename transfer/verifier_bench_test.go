package transfer

import (
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+sys CPU time so far: on a machine shared
// with other jobs it moves less than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifier writes 256 MiB into a verifier the way Store.Download
// does for a large object (ranges of 16 MiB, 4 at a time, each in the
// 256 KiB pieces its body arrives in) and reports CPU seconds per GiB,
// hashing included.
func BenchmarkVerifier(b *testing.B) {
	const (
		total  = 256 << 20
		chunk  = 16 << 20
		piece  = 256 << 10
		ranges = 4
	)
	buf := make([]byte, piece)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	dir := b.TempDir()
	b.SetBytes(total)
	var used time.Duration
	for range b.N {
		tf, err := openOwn(dir, "bench")
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		v := newVerifier(tf, total)
		var (
			mu   sync.Mutex
			next int64
			wg   sync.WaitGroup
		)
		for range ranges {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					a := next
					next += chunk
					mu.Unlock()
					if a >= total {
						return
					}
					for off := a; off < a+chunk; off += piece {
						if _, err := v.WriteAt(buf, off); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if n, _, err := v.result(); err != nil || n != total {
			b.Fatalf("result = %d, %v", n, err)
		}
		used += cpuTime() - c0
		tf.remove()
	}
	b.ReportMetric(used.Seconds()/float64(b.N)/total*(1<<30), "cpu-s/GiB")
}
