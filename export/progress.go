package export

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// meter shows files and bytes done on one line of a terminal, refreshed a
// few times a second. With no writer it only counts.
type meter struct {
	w     io.Writer
	files int
	start time.Time

	filesDone atomic.Int64
	bytesDone atomic.Int64
	bytesSeen atomic.Int64

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func newMeter(w io.Writer, files int) *meter {
	m := &meter{w: w, files: files, start: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(m.done)
		return m
	}
	go m.loop()
	return m
}

func (m *meter) fileDone()        { m.filesDone.Add(1) }
func (m *meter) addDone(n int64)  { m.bytesDone.Add(n) }
func (m *meter) addBytes(n int64) { m.bytesSeen.Add(n) }

func (m *meter) loop() {
	defer close(m.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			m.show()
			fmt.Fprintln(m.w)
			return
		case <-t.C:
			m.show()
		}
	}
}

func (m *meter) show() {
	secs := time.Since(m.start).Seconds()
	rate := float64(m.bytesDone.Load()) / max(secs, 0.001)
	fmt.Fprintf(m.w, "\rexport: %d/%d files, %s of LFS content so far (of %s known), %s/s   ",
		m.filesDone.Load(), m.files, human(m.bytesDone.Load()), human(m.bytesSeen.Load()), human(int64(rate)))
}

// stop ends the display with its final state.
func (m *meter) stop() {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
}

// human prints a byte count in binary units.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
