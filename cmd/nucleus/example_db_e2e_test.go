package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/runtime"
)

// What examples/db and this test need from the host, and the Debian
// package that brings each (make deps installs them).
var dbExampleNeeds = map[string]string{
	pgBin + "/postgres":                       "postgresql-15",
	pgBin + "/initdb":                         "postgresql-15",
	pgBin + "/pgbench":                        "postgresql-15",
	pgBin + "/pg_isready":                     "postgresql-client-15",
	pgBin + "/psql":                           "postgresql-client-15",
	"/usr/bin/redis-server":                   "redis-server",
	"/usr/bin/redis-cli":                      "redis-tools",
	"/usr/bin/redis-benchmark":                "redis-tools",
	"/usr/bin/python3":                        "python3",
	"/usr/lib/python3/dist-packages/psycopg2": "python3-psycopg2",
	"/usr/lib/python3/dist-packages/redis":    "python3-redis",
}

const pgBin = "/usr/lib/postgresql/15/bin"

// TestExampleDB (issue 11) runs examples/db as a user would, on free
// ports and a temporary state root: up -d --wait; pgbench (initialise,
// then 5 s select-only) and redis-benchmark through the published ports;
// the Python service answers with data from both; a row written with psql
// survives down + up; down -v removes the volume and leaves nothing. It
// logs tps and requests/s next to the same servers run directly on the
// host in the same run (a comparison, asserted only to be non-zero).
func TestExampleDB(t *testing.T) {
	testutil.RequireRoot(t)
	for p, pkg := range dbExampleNeeds {
		testutil.Require(t, testutil.FileExists(p), p+" (Debian package "+pkg+")")
	}
	dir, err := filepath.Abs("../../examples/db")
	if err != nil {
		t.Fatal(err)
	}
	dbPort, redisPort, appPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	password := testutil.RandHex(8)
	c := &cli{t: t, root: t.TempDir(), dir: dir, project: "exdb" + testutil.RandHex(3)}
	c.env = []string{
		"NUCLEUS_PROJECT_NAME=" + c.project,
		"DB_PORT=" + strconv.Itoa(dbPort),
		"REDIS_PORT=" + strconv.Itoa(redisPort),
		"APP_PORT=" + strconv.Itoa(appPort),
		"DB_PASSWORD=" + password,
	}
	vol := runtime.VolumeDir(c.rootdir(), c.project, "pgdata")
	var pids []int
	t.Cleanup(func() {
		c.run("down", "-v", "--timeout", "0s")
		c.assertNoLeaks()
		c.assertNoIDRangeLease()
		if testutil.FileExists(vol) {
			t.Errorf("volume pgdata (%s) left after down -v", vol)
		}
		for _, pid := range pids {
			if testutil.Alive(pid) {
				t.Errorf("process %d of the project (%s) still runs after down -v", pid, cmdline(pid))
			}
		}
	})
	pg := pgClient{t: t, port: dbPort, password: password}

	start := time.Now()
	c.must("up", "-d", "--wait", "--wait-timeout", "90s")
	t.Logf("up -d --wait: %v", time.Since(start).Round(time.Millisecond))
	c.assertHealthy("postgres", "redis", "app")

	// Benchmarks through the published ports, next to the same servers run
	// directly on the host, interleaved A B B A so that the machine's drift
	// over the run does not favour either side.
	pg.run("pgbench", "-i", "-q")
	type side struct {
		name      string
		pg        pgClient
		redisPort int
		tps       []float64
		rps       map[string][]float64 // SET, GET
	}
	hostPG, hostRedis := startHostDB(t)
	sides := []*side{
		{name: "nucleus", pg: pg, redisPort: redisPort, rps: map[string][]float64{}},
		{name: "host", pg: hostPG, redisPort: hostRedis, rps: map[string][]float64{}},
	}
	for _, s := range sides { // warm-up, not counted: the first scan after pgbench -i is slower
		s.pg.run("pgbench", "-S", "-T", "1")
	}
	abba := []*side{sides[0], sides[1], sides[1], sides[0]}
	for _, s := range abba {
		s.tps = append(s.tps, s.pg.selectTPS())
	}
	for _, s := range abba {
		for op, v := range redisBench(t, s.redisPort) {
			s.rps[op] = append(s.rps[op], v)
		}
	}
	for _, s := range sides {
		t.Logf("%-7s pgbench -S -T 5: %.0f tps %.0f; redis-benchmark -n 20000: SET %.0f requests/s %.0f, GET %.0f requests/s %.0f",
			s.name, s.tps, mean(s.tps), s.rps["SET"], mean(s.rps["SET"]), s.rps["GET"], mean(s.rps["GET"]))
	}
	t.Logf("nucleus/host: pgbench tps %.2f, redis SET %.2f, GET %.2f", mean(sides[0].tps)/mean(sides[1].tps),
		mean(sides[0].rps["SET"])/mean(sides[1].rps["SET"]), mean(sides[0].rps["GET"])/mean(sides[1].rps["GET"]))

	// The Python service counts in Redis and writes a row to PostgreSQL.
	one, two := appGet(t, appPort), appGet(t, appPort)
	if one.RedisCounter < 1 || two.RedisCounter != one.RedisCounter+1 ||
		two.PostgresRows != one.PostgresRows+1 || two.Row.ID == 0 {
		t.Fatalf("two GET / of the app: %+v then %+v; want the Redis counter and the PostgreSQL row count each one higher", one, two)
	}

	// A row written with psql survives down + up (the volume is kept).
	pg.run("psql", "-c", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')")
	first := c.projectPIDs()
	c.must("down")
	for _, pid := range first {
		if testutil.Alive(pid) {
			t.Errorf("process %d of the project (%s) still runs after down", pid, cmdline(pid))
		}
	}
	if !testutil.FileExists(filepath.Join(vol, "data", "PG_VERSION")) {
		t.Fatalf("volume pgdata (%s) has no database cluster after down; down must keep named volumes", vol)
	}
	c.must("up", "-d", "--wait", "--wait-timeout", "90s")
	c.assertHealthy("postgres", "redis", "app")
	if got := strings.TrimSpace(pg.run("psql", "-c", "SELECT v FROM kept")); got != "survives" {
		t.Errorf("after down + up, SELECT v FROM kept gave %q, want survives", got)
	}
	// Redis is a cache without persistence: its counter starts again; the
	// rows in PostgreSQL are still there.
	if three := appGet(t, appPort); three.RedisCounter != 1 || three.PostgresRows != two.PostgresRows+1 {
		t.Errorf("GET / after down + up: %+v; want Redis counter 1 (no persistence) and %d rows (kept in the volume)", three, two.PostgresRows+1)
	}
	pids = c.projectPIDs()

	c.must("down", "-v")
	if testutil.FileExists(vol) {
		t.Errorf("volume pgdata (%s) left after down -v", vol)
	}

}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func (c *cli) assertHealthy(services ...string) {
	c.t.Helper()
	ps := c.ps()
	for _, s := range services {
		if r := ps[s]; r.State != "healthy" || !testutil.Alive(r.PID) {
			c.t.Fatalf("service %s after up --wait: %+v, want healthy and running", s, r)
		}
	}
}

// pgClient runs PostgreSQL's client programs against 127.0.0.1:port as
// user postgres.
type pgClient struct {
	t        *testing.T
	port     int
	password string
}

func (p pgClient) run(prog string, args ...string) string {
	p.t.Helper()
	args = append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres"}, args...)
	if prog == "psql" {
		args = append(args, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1")
	}
	cmd := exec.Command(filepath.Join(pgBin, prog), append(args, "postgres")...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+p.password, "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// selectTPS runs pgbench's select-only script for 5 s and returns its tps.
func (p pgClient) selectTPS() float64 {
	p.t.Helper()
	out := p.run("pgbench", "-S", "-T", "5")
	m := tpsRE.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "number of failed transactions: 0 ") {
		p.t.Fatalf("pgbench -S -T 5: no tps or failed transactions in its output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(m[1], 64)
	if tps <= 0 {
		p.t.Fatalf("pgbench -S -T 5: tps %v\n%s", tps, out)
	}
	return tps
}

var rpsRE = regexp.MustCompile(`(SET|GET): ([0-9.]+) requests per second`)

// redisBench runs a short redis-benchmark against 127.0.0.1:port and
// returns requests per second of SET and GET.
func redisBench(t *testing.T, port int) map[string]float64 {
	t.Helper()
	out, err := exec.Command("redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-n", "20000", "-q", "-t", "set,get").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark on port %d: %v\n%s", port, err, out)
	}
	rps := map[string]float64{}
	for _, m := range rpsRE.FindAllStringSubmatch(string(out), -1) {
		rps[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if rps["SET"] <= 0 || rps["GET"] <= 0 {
		t.Fatalf("redis-benchmark on port %d: want requests per second of SET and GET, got:\n%s", port, out)
	}
	return rps
}

// appAnswer is what examples/db/app/server.py answers to GET /.
type appAnswer struct {
	RedisCounter int `json:"redis_counter"`
	PostgresRows int `json:"postgres_rows"`
	Row          struct {
		ID      int `json:"id"`
		Counter int `json:"counter"`
	} `json:"row"`
}

func appGet(t *testing.T, port int) appAnswer {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a appAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
		t.Fatalf("GET %s: %s %s, want 200 and the counter as JSON", url, resp.Status, body)
	}
	return a
}

// projectPIDs lists the processes of the project's running services: each
// replica's process and everything below it (postgres's backends).
func (c *cli) projectPIDs() []int {
	c.t.Helper()
	var pids []int
	for _, r := range c.ps() {
		pids = append(pids, descendants(r.PID)...)
	}
	return pids
}

// descendants returns pid and every process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		st, err := procstat.Read(p)
		if err != nil {
			continue
		}
		children[st.PPID] = append(children[st.PPID], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// startHostDB starts PostgreSQL 15 (a fresh cluster as user postgres,
// initialised for pgbench) and redis-server (as user redis) directly on the
// host, on 127.0.0.1 and free ports, with the settings of examples/db.
func startHostDB(t *testing.T) (pg pgClient, redisPort int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "nucleus-pg-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pgUser, redisUser := lookupUser(t, "postgres"), lookupUser(t, "redis")
	if err := os.Chown(dir, int(pgUser.Uid), int(pgUser.Gid)); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	initdb.Dir, initdb.SysProcAttr = "/", &syscall.SysProcAttr{Credential: pgUser}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb on the host: %v\n%s", err, out)
	}
	pgPort, redisPort := testutil.FreePort(t), testutil.FreePort(t)
	startDaemon(t, pgUser, syscall.SIGINT, filepath.Join(pgBin, "postgres"), "-D", data, "-p", strconv.Itoa(pgPort),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=50", "-c", "shared_buffers=64MB")
	startDaemon(t, redisUser, syscall.SIGTERM, "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(redisPort),
		"--save", "", "--appendonly", "no", "--dir", "/tmp")
	testutil.WaitFor(t, "postgres on the host to accept connections", 30*time.Second, func() bool {
		return exec.Command(filepath.Join(pgBin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pgPort)).Run() == nil
	})
	testutil.WaitFor(t, "redis-server on the host to answer", 10*time.Second, func() bool {
		return exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(redisPort), "ping").Run() == nil
	})
	pg = pgClient{t: t, port: pgPort}
	pg.run("pgbench", "-i", "-q")
	return pg, redisPort
}

func lookupUser(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s (created by its Debian package): %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// startDaemon runs a server in the foreground as cred and stops it with
// stop (then SIGKILL) when the test ends.
func startDaemon(t *testing.T, cred *syscall.Credential, stop syscall.Signal, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.SysProcAttr = "/", &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	log, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s on the host: %v", argv[0], err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, stop)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}
