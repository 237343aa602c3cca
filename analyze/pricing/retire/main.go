// Command retire builds the archive of prices that left the public price
// table: it walks the git history of a mirror that commits the table daily
// (RoCry/llm-api-price; provenance in ../source/SOURCES.md) and keeps, for
// every model no longer in the newest version, its entry as last published
// and the dates it was last seen and first missing.
//
//	git clone https://github.com/RoCry/llm-api-price /tmp/llm-api-price
//	go run ./retire -git /tmp/llm-api-price -out source/retired.json
//
// Providers retire models from the table while calls to them stay in
// captures for months (a team analyses last quarter's traffic): without the
// archive those calls would lose their cost. The entries are kept in the
// table's own format, so ../gen applies the same checks to them.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

const tableFile = "model_prices_and_context_window.json"

// Retired is one entry of the archive.
type Retired struct {
	LastSeen     string          `json:"last_seen"`     // date of the last table that listed the model
	FirstMissing string          `json:"first_missing"` // date of the first table without it
	Commit       string          `json:"commit"`        // the mirror's commit of the last table that listed it
	Entry        json.RawMessage `json:"entry"`         // the entry as that table published it
}

// Archive is source/retired.json.
type Archive struct {
	Source string             `json:"source"`
	From   string             `json:"from"` // date of the oldest table read
	To     string             `json:"to"`   // date of the newest: the models it lists are not retired
	Head   string             `json:"head"`
	Models map[string]Retired `json:"models"`
}

type version struct{ commit, date string }

func main() {
	dir := flag.String("git", "", "a clone of RoCry/llm-api-price")
	out := flag.String("out", "source/retired.json", "output file")
	flag.Parse()
	versions, err := history(*dir)
	if err != nil {
		log.Fatal(err)
	}
	a, err := collect(*dir, versions)
	if err != nil {
		log.Fatal(err)
	}
	b, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "retire: %d tables from %s to %s, %d models retired → %s\n", len(versions), a.From, a.To, len(a.Models), *out)
}

// history lists the commits that changed the table, oldest first.
func history(dir string) ([]version, error) {
	b, err := exec.Command("git", "-C", dir, "log", "--reverse", "--format=%H %cs", "--", tableFile).Output()
	if err != nil {
		return nil, fmt.Errorf("git log in %s: %w", dir, err)
	}
	var vs []version
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if c, d, ok := strings.Cut(line, " "); ok {
			vs = append(vs, version{c, d})
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s: no commit changes %s", dir, tableFile)
	}
	return vs, nil
}

// collect reads every version through one `git cat-file --batch` and keeps
// the entries of models the newest version no longer lists.
func collect(dir string, vs []version) (*Archive, error) {
	cmd := exec.Command("git", "-C", dir, "cat-file", "--batch")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer cmd.Wait()
	defer stdin.Close()
	r := bufio.NewReaderSize(stdout, 1<<20)
	type seen struct {
		v     version
		entry json.RawMessage
	}
	last := map[string]seen{}
	missing := map[string]string{} // model → date of the first table without it, after it was last seen
	var newest map[string]json.RawMessage
	for _, v := range vs {
		fmt.Fprintf(stdin, "%s:%s\n", v.commit, tableFile)
		head, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		f := strings.Fields(head)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s: git cat-file: %s", v.commit, strings.TrimSpace(head))
		}
		n, _ := strconv.Atoi(f[2])
		blob := make([]byte, n+1) // and the newline after it
		if _, err := io.ReadFull(r, blob); err != nil {
			return nil, err
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(blob[:n], &top); err != nil {
			log.Printf("%s (%s): skipped, not JSON: %v", v.commit[:7], v.date, err)
			continue
		}
		for name, e := range top {
			if name == "sample_spec" || name == "last_updated" || !bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) {
				continue
			}
			last[name] = seen{v, e}
			delete(missing, name)
		}
		for name := range last {
			if _, ok := top[name]; !ok && missing[name] == "" {
				missing[name] = v.date
			}
		}
		newest = top
	}
	a := &Archive{Source: "RoCry/llm-api-price (daily copies of BerriAI/litellm " + tableFile + ")",
		From: vs[0].date, To: vs[len(vs)-1].date, Head: vs[len(vs)-1].commit, Models: map[string]Retired{}}
	for name, s := range last {
		if _, ok := newest[name]; ok {
			continue
		}
		a.Models[name] = Retired{LastSeen: s.v.date, FirstMissing: missing[name], Commit: s.v.commit, Entry: s.entry}
	}
	return a, nil
}
