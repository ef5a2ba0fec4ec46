package redisinfo_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/reference/redisinfo"
)

// Parse reads what a session store must watch from an INFO reply: how
// full Redis is and whether it may evict sessions.
func ExampleParse() {
	reply := "# Memory\r\nused_memory:1048576\r\nmaxmemory:4294967296\r\nmaxmemory_policy:volatile-lru\r\n" +
		"# Stats\r\nevicted_keys:12\r\n"
	info, err := redisinfo.Parse(reply)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("used %d of %d bytes, policy %s, %d keys evicted\n", info.UsedMemory, info.MaxMemory, info.MaxMemoryPolicy, info.EvictedKeys)
	// Output: used 1048576 of 4294967296 bytes, policy volatile-lru, 12 keys evicted
}
