package testsvc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// redisHowTo is the hint shown when redis-server or redis-cli is missing.
const redisHowTo = "apt-get install -y redis-server"

// StartRedis starts a real redis-server on a free loopback port (never
// 6379) with persistence off, waits until it answers PING and stops it
// when the test ends. Extra args are appended to the command line (for
// example "--maxmemory", "10mb"). It returns "127.0.0.1:PORT".
//
// A missing binary fails the test in CI and skips it elsewhere.
func StartRedis(tb testing.TB, args ...string) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(tb, "redis-server", err, redisHowTo)
		return ""
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort(false)
		if err != nil {
			lastErr = err
			continue
		}
		addr, err := startRedisServer(tb, bin, port, args)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	tb.Fatalf("testsvc: redis-server did not start after 5 attempts: %v", lastErr)
	return ""
}

// StartCluster starts a three-master Redis Cluster (no replicas) on free
// loopback ports, waits until every node reports cluster_state:ok and
// stops it when the test ends. It returns the node addresses, suitable
// for redis.ClusterOptions.Addrs.
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(tb, "redis-server", err, redisHowTo)
		return nil
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		Unavailable(tb, "redis-cli", err, redisHowTo)
		return nil
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addrs, err := startClusterOnce(tb, bin, cli)
		if err == nil {
			return addrs
		}
		lastErr = err
	}
	tb.Fatalf("testsvc: redis cluster did not start: %v", lastErr)
	return nil
}

func startClusterOnce(tb testing.TB, bin, cli string) ([]string, error) {
	tb.Helper()
	addrs := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		port, err := freePort(true)
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(tb.TempDir(), "nodes.conf")
		addr, err := startRedisServer(tb, bin, port, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", conf,
			"--cluster-node-timeout", "5000",
		})
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	create := append([]string{"--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		for {
			info, err := command(a, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("node %s never reached cluster_state:ok (last: %q, %v)", a, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs, nil
}

// StartMiniredis starts an in-process miniredis (closed when the test
// ends). It is for unit tests that need Redis semantics but not a real
// server; miniredis.FastForward moves its clock.
func StartMiniredis(tb testing.TB) *miniredis.Miniredis {
	tb.Helper()
	return miniredis.RunT(tb)
}

// startRedisServer runs one redis-server on port and waits for PING.
func startRedisServer(tb testing.TB, bin string, port int, extra []string) (string, error) {
	tb.Helper()
	dir := tb.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--protected-mode", "no",
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", fmt.Errorf("create redis log: %w", err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return "", fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("redis-server on %s exited early: %s", addr, lastLines(string(log), 5))
		default:
		}
		if reply, err := command(addr, "PING"); err == nil && reply == "PONG" {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on %s did not answer PING within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(stop)
	return addr, nil
}

// freePort asks the kernel for a free port by listening on :0. With bus
// set it also checks that port+10000 (the cluster bus) is free.
func freePort(bus bool) (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("listen on a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port == 6379 {
			continue
		}
		if bus {
			if port+10000 > 65535 {
				continue
			}
			bl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
			if err != nil {
				continue
			}
			_ = bl.Close()
		}
		return port, nil
	}
	return 0, errors.New("no free port found")
}

// command sends one inline command over RESP and returns the reply as
// text (status, integer or bulk string). It exists so that starting a
// server does not depend on a Redis client library.
func command(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
