package deploytest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsNodes are the cluster's configuration files.
var natsNodes = []string{"nats-1.conf", "nats-2.conf", "nats-3.conf"}

// TestNATSClusterConfig parses the three node configurations with
// nats-server's own parser, checks that they form one JetStream cluster on
// loopback, then starts the three nodes in-process (on free ports, stores
// in a temp dir), creates a stream with three replicas, and checks that it
// keeps accepting messages with one node stopped.
func TestNATSClusterConfig(t *testing.T) {
	dir := filepath.Join(deployments, "nats")
	var opts []*server.Options
	names, clients, routes := map[string]bool{}, map[int]bool{}, map[int]bool{}
	for _, f := range natsNodes {
		o, err := server.ProcessConfigFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch {
		case o.ServerName == "" || names[o.ServerName]:
			t.Errorf("%s: server_name %q empty or used by another node", f, o.ServerName)
		case !o.JetStream || o.StoreDir == "":
			t.Errorf("%s: JetStream not enabled with a store_dir", f)
		case !o.SyncAlways:
			t.Errorf("%s: sync_interval is not always: a power loss can lose acknowledged events", f)
		case o.Cluster.Name != "vccsync":
			t.Errorf("%s: cluster name %q, want vccsync", f, o.Cluster.Name)
		case len(o.Routes) != len(natsNodes):
			t.Errorf("%s: %d routes, want one per node (%d)", f, len(o.Routes), len(natsNodes))
		case o.Host != "127.0.0.1" || o.Cluster.Host != "127.0.0.1" || o.HTTPHost != "127.0.0.1":
			t.Errorf("%s: client %s, cluster %s, monitoring %s: want loopback for the local try", f, o.Host, o.Cluster.Host, o.HTTPHost)
		case clients[o.Port] || routes[o.Cluster.Port]:
			t.Errorf("%s: client port %d or cluster port %d used by another node", f, o.Port, o.Cluster.Port)
		}
		names[o.ServerName], clients[o.Port], routes[o.Cluster.Port] = true, true, true
		opts = append(opts, o)
	}
	for i, o := range opts {
		for _, r := range o.Routes {
			if port, _ := strconv.Atoi(r.Port()); r.Hostname() != "127.0.0.1" || !routes[port] {
				t.Errorf("%s: route %s is no node's cluster address", natsNodes[i], r)
			}
		}
	}
	if t.Failed() {
		return
	}

	// The same files, on free ports.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := t.TempDir()
	clusterPorts := make([]int, len(opts))
	for i := range opts {
		clusterPorts[i] = freePort(t)
	}
	var routeURLs []string
	for _, p := range clusterPorts {
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	var urls []string
	for i, o := range opts {
		o.Port, o.HTTPPort = freePort(t), 0
		o.Cluster.Port = clusterPorts[i]
		o.Routes = server.RoutesFromStr(strings.Join(routeURLs, ","))
		o.StoreDir = filepath.Join(store, o.ServerName)
		o.NoSigs, o.NoLog = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("%s: %v", natsNodes[i], err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s: not ready for connections", natsNodes[i])
		}
		servers = append(servers, s)
		urls = append(urls, s.ClientURL())
	}

	// The way syncworker connects: every node's URL.
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("deploytest"), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var stream jetstream.Stream
	if err := poll(ctx, 250*time.Millisecond, func() error {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		stream, err = js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
			Name: "DEPLOYTEST", Subjects: []string{"deploytest.>"}, Storage: jetstream.FileStorage, Replicas: 3,
		})
		return err
	}); err != nil {
		t.Fatalf("stream with 3 replicas (the JetStream meta leader is elected first): %v", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Name != "vccsync" || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster info %+v: want cluster vccsync, a leader and 2 replicas", info.Cluster)
	}
	if _, err := js.Publish(ctx, "deploytest.a", []byte("1")); err != nil {
		t.Fatal(err)
	}

	// One node down (the stream's leader, the hardest case): the other two
	// keep a quorum and elect a new leader.
	leader := info.Cluster.Leader
	for _, s := range servers {
		if s.Name() == leader {
			s.Shutdown()
		}
	}
	if err := poll(ctx, 250*time.Millisecond, func() error {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		_, err := js.Publish(pctx, "deploytest.a", []byte("2"))
		return err
	}); err != nil {
		t.Fatalf("publish with node %s down: %v", leader, err)
	}
	if err := poll(ctx, 250*time.Millisecond, func() error {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 2 || info.Cluster == nil || info.Cluster.Leader == leader || info.Cluster.Leader == "" {
			return errors.New("stream not yet led by another node with both messages")
		}
		return nil
	}); err != nil {
		t.Fatalf("after stopping %s: %v", leader, err)
	}
}
