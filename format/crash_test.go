package format

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashChildEnv = "LESSLLM_FORMAT_CRASH_CHILD"
	crashFlush    = 50 * time.Millisecond
	// crashSlack is the time a flush itself takes — compressing and writing
	// one frame — on top of FlushInterval. It is generous because the two
	// cores here are shared by the child, the parent and the race detector.
	crashSlack = 50 * time.Millisecond
)

// TestCrashChild is the child process of TestCrashLosesNothingFlushed: it
// appends records until killed, printing each id with the time its Append
// returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child process of TestCrashLosesNothingFlushed")
	}
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "crash", FlushInterval: crashFlush, MaxSegmentBytes: 64 << 10})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	for i := uint64(0); ; i++ {
		ex := testExchanges(1, i)[0]
		ex.ID = NewID(time.Now())
		if err := w.Append(ex); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Printf("%s %d\n", ex.ID, time.Now().UnixNano()) // unbuffered: one write(2) per record
		time.Sleep(200 * time.Microsecond)
	}
}

// TestCrashLosesNothingFlushed: a process appending records is killed with
// SIGKILL at random moments; after the repair a restart runs, every record
// whose Append returned more than the flush delay before the kill is there.
func TestCrashLosesNothingFlushed(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for round := range 5 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan map[string]int64)
		go func() {
			m := map[string]int64{}
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				id, ts, ok := strings.Cut(sc.Text(), " ")
				if n, err := strconv.ParseInt(ts, 10, 64); ok && err == nil {
					m[id] = n
				}
			}
			acked <- m
		}()
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		killedAt := time.Now()
		cmd.Process.Signal(syscall.SIGKILL)
		m := <-acked
		cmd.Wait()

		if _, err := RepairDir(dir, "crash"); err != nil {
			t.Fatal(err)
		}
		segs, err := ListSegments([]string{dir}, true)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, s := range segs {
			if !s.Sealed {
				t.Fatalf("%s left unsealed by repair", s.Path)
			}
			exs, err := readAll(t, s.Path)
			if err != nil {
				t.Fatalf("repaired segment damaged: %v", err)
			}
			for _, ex := range exs {
				found[ex.ID] = true
			}
		}
		deadline := killedAt.Add(-crashFlush - crashSlack).UnixNano()
		due, lost := 0, 0
		for id, ts := range m {
			if ts < deadline {
				due++
				if !found[id] {
					lost++
				}
			}
		}
		t.Logf("round %d: %d appended, %d due on disk, %d recovered, %d lost", round, len(m), due, len(found), lost)
		if due == 0 || lost > 0 {
			t.Fatalf("round %d: %d of %d records due on disk were lost", round, lost, due)
		}
	}
}
