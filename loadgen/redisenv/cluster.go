package redisenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// formCluster makes a Redis Cluster of the given nodes (each started
// with --cluster-enabled yes and no slots): it splits the 16384 slots
// evenly with CLUSTER ADDSLOTSRANGE, introduces the nodes with CLUSTER
// MEET and waits until every node reports cluster_state:ok and knows all
// the others. It does with the client what `redis-cli --cluster create`
// does, so no redis-cli is needed on the machine or in an image.
func formCluster(ctx context.Context, nodes []*redis.Client, timeout time.Duration) error {
	n := len(nodes)
	if n == 0 {
		return fmt.Errorf("cluster: no nodes")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for i, c := range nodes {
		lo := i * clusterSlots / n
		hi := (i+1)*clusterSlots/n - 1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("cluster: ADDSLOTSRANGE %d %d on %s: %w", lo, hi, c.Options().Addr, err)
		}
	}
	for _, c := range nodes[1:] {
		host, port, err := net.SplitHostPort(c.Options().Addr)
		if err != nil {
			return fmt.Errorf("cluster: node address %q: %w", c.Options().Addr, err)
		}
		p, _ := strconv.Atoi(port)
		if err := nodes[0].ClusterMeet(ctx, host, strconv.Itoa(p)).Err(); err != nil {
			return fmt.Errorf("cluster: MEET %s: %w", c.Options().Addr, err)
		}
	}
	for _, c := range nodes {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster: %s not ready within %v (last: %q, %v)", c.Options().Addr, timeout, firstLines(info, 3), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " ")
}

// waitReplica waits until the replica reports its link to the primary up
// and the initial sync done.
func waitReplica(ctx context.Context, replica *redis.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		m, err := infoOn(ctx, replica, "replication")
		if err == nil && m["master_link_status"] == "up" && m["master_sync_in_progress"] == "0" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not in sync within %v (link %q, %v)", replica.Options().Addr, timeout, m["master_link_status"], err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
