package sbinit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Log files: when a sandbox's output is not attached, the init writes the
// workload's stdout and stderr as JSON lines {"time","stream","line"} to
// LogFile in the sandbox's state directory (received as a directory fd, so
// the files live outside the sandbox's view). Because the init writes them,
// logging goes on when the process that created the sandbox dies. When the
// file passes the size limit it is rotated to LogFile.1 .. LogFile.<logKeep>.
const (
	LogFile        = "output.log"
	logKeep        = 3
	defaultLogSize = 10 << 20
)

// LogRecord is one line of a log file.
type LogRecord struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // stdout | stderr
	Line   string    `json:"line"`
}

type logSink struct {
	dirfd   int
	max     int64
	stdoutW *os.File
	stderrW *os.File
	readers []*os.File

	mu   sync.Mutex
	f    *os.File
	size int64
	wg   sync.WaitGroup
	// lost counts the lines a failed write (a full disk) dropped since the
	// last one that got through; lostErr is why.
	lost    int
	lostErr error
}

func newLogSink(dirfd int, max int64) (*logSink, error) {
	if max <= 0 {
		max = defaultLogSize
	}
	s := &logSink{dirfd: dirfd, max: max}
	if err := s.open(); err != nil {
		return nil, err
	}
	for _, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("log pipe: %w", err)
		}
		if stream == "stdout" {
			s.stdoutW = w
		} else {
			s.stderrW = w
		}
		s.readers = append(s.readers, r)
		s.wg.Add(1)
		go s.pump(r, stream)
	}
	return s, nil
}

// startedChild closes the init's copies of the write ends.
func (s *logSink) startedChild() {
	s.stdoutW.Close()
	s.stderrW.Close()
}

func (s *logSink) open() error {
	fd, err := unix.Openat(s.dirfd, LogFile, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	s.f = os.NewFile(uintptr(fd), LogFile)
	fi, err := s.f.Stat()
	if err == nil {
		s.size = fi.Size()
	}
	return nil
}

func (s *logSink) pump(r io.Reader, stream string) {
	defer s.wg.Done()
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			s.write(LogRecord{Time: time.Now().UTC(), Stream: stream, Line: string(line)})
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// write appends rec. A line that cannot be written is dropped, never
// retried: the pipes keep draining, so the workload never blocks on a full
// disk. The first line that fits again is preceded by a note of the loss.
func (s *logSink) write(rec LogRecord) {
	b, _ := json.Marshal(rec)
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost > 0 {
		note, _ := json.Marshal(LogRecord{Time: rec.Time, Stream: "stderr",
			Line: fmt.Sprintf("[nucleus: %d log lines lost: %v]", s.lost, s.lostErr)})
		if s.append(append(note, '\n')) != nil {
			s.lost++
			return
		}
		s.lost = 0
	}
	if err := s.append(b); err != nil {
		s.lost, s.lostErr = s.lost+1, err
	}
}

// append writes one whole line or nothing: a torn line would garble the
// next one too.
func (s *logSink) append(b []byte) error {
	if s.size+int64(len(b)) > s.max && s.size > 0 {
		s.rotate()
	}
	n, err := s.f.Write(b)
	if err != nil {
		if n > 0 {
			_ = s.f.Truncate(s.size)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "no space left on device", without the fd's name
		}
		return err
	}
	s.size += int64(n)
	return nil
}

// rotate shifts LogFile.N-1 -> LogFile.N ... LogFile -> LogFile.1.
func (s *logSink) rotate() {
	for i := logKeep - 1; i >= 1; i-- {
		_ = unix.Renameat(s.dirfd, LogFile+"."+strconv.Itoa(i), s.dirfd, LogFile+"."+strconv.Itoa(i+1))
	}
	_ = unix.Renameat(s.dirfd, LogFile, s.dirfd, LogFile+".1")
	s.f.Close()
	s.size = 0
	if err := s.open(); err != nil {
		// Keep writing somewhere rather than losing the workload's output.
		s.f, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
}

// close waits briefly for the pipes to drain: a daemon the workload left
// behind may hold them open forever.
func (s *logSink) close() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
	s.mu.Lock()
	s.f.Close()
	s.mu.Unlock()
}
