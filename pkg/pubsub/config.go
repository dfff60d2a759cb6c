package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

// Defaults of Config.
const (
	// DefaultAddr is Salesforce's Pub/Sub API endpoint.
	DefaultAddr = "api.pubsub.salesforce.com:7443"
	// DefaultTopic is the channel of User change events.
	DefaultTopic = "/data/UserChangeEvent"
	// MaxBatchSize is the most events a FetchRequest may ask for, and the
	// default Config.BatchSize.
	MaxBatchSize = 100

	DefaultRetryInitial = time.Second
	DefaultRetryMax     = time.Minute
	DefaultRPCTimeout   = 30 * time.Second
	// DefaultIdleTimeout is well above the 270 seconds within which
	// Salesforce sends a keepalive on an idle stream.
	DefaultIdleTimeout = 10 * time.Minute

	// MaxResponseSize is the largest FetchResponse the subscriber
	// accepts (gRPC's default is 4 MiB): a response may carry up to
	// BatchSize events, and an event may be up to 1 MB.
	MaxResponseSize = 128 << 20
)

// ErrCannotSubscribe is returned by Run when GetTopic says the topic
// cannot be subscribed to by the authenticated user.
var ErrCannotSubscribe = errors.New("topic cannot be subscribed to")

// Credentials authenticate every Pub/Sub API call: they are sent as the
// gRPC metadata accesstoken, instanceurl and tenantid.
type Credentials struct {
	AccessToken string // OAuth access token
	InstanceURL string // the org's URL, e.g. https://example.my.salesforce.com
	TenantID    string // the org ID
}

// Login gives the credentials the subscriber calls with. It is asked
// before every subscription attempt, so it may return cached credentials;
// refresh is true when the server refused the last ones (gRPC
// Unauthenticated): a new access token is wanted, not a cached one.
type Login interface {
	Credentials(ctx context.Context, refresh bool) (Credentials, error)
}

// ReplayStore keeps a topic's replay position: the opaque replay id the
// subscription resumes after. Load returns nil (or empty) when none is
// stored; Save with a nil id clears it.
type ReplayStore interface {
	Load(ctx context.Context, topic string) ([]byte, error)
	Save(ctx context.Context, topic string, replayID []byte) error
}

// Event is one event of the topic, decoded.
type Event struct {
	Topic      string
	EventID    string // ProducerEvent.id, the event's UUID
	SchemaID   string // the Avro schema the payload was written with
	SchemaJSON string // that schema, as GetSchema returned it
	// Payload is the event decoded from Avro into JSON: the "decoded
	// Pub/Sub form" salesforce.CDCDecoder reads. Record fields are in
	// schema order, union values are unwrapped (a nullable string is the
	// string or null), enums are their symbols, longs are JSON integers.
	Payload  []byte
	ReplayID []byte // the event's position in the stream (opaque)
}

// Sink takes the events of the subscription, one at a time and in order.
// Handle returns nil only once the event is stored durably downstream:
// the subscriber then stores its replay id and will not deliver it
// again. An error stops the subscription; it resumes from the last stored
// replay id, so the event comes again.
type Sink interface {
	Handle(ctx context.Context, ev Event) error
}

// Config configures a Subscriber. Login, Store and Sink are required.
type Config struct {
	// Addr is the Pub/Sub API endpoint (host:port, or any gRPC target);
	// default DefaultAddr.
	Addr string
	// DialOptions are added after the subscriber's own (transport
	// credentials, MaxResponseSize), so they may replace them: for
	// example grpc.WithTransportCredentials with a private CA.
	DialOptions []grpc.DialOption
	// Insecure dials without TLS, for a sandbox on loopback. The access
	// token then travels in clear text.
	Insecure bool

	// Topic to subscribe to; default DefaultTopic.
	Topic string
	// BatchSize is how many events may be requested and not yet
	// delivered at a time (FetchRequest.num_requested); 1 to
	// MaxBatchSize, default MaxBatchSize.
	BatchSize int
	// StartPreset is where a subscription starts when no replay id is
	// stored: eventbus.ReplayPreset_LATEST (the default, the zero value)
	// or eventbus.ReplayPreset_EARLIEST.
	StartPreset eventbus.ReplayPreset

	Login Login
	Store ReplayStore
	Sink  Sink

	// OnReplayLost is called, once per loss, when the replay position is
	// lost and events may have been missed: the stored replay id was
	// refused as invalid or expired, or the first events of a LATEST
	// subscription could not be published before any position was
	// stored. The subscription goes on from LATEST; the caller
	// reconciles. It runs on the subscriber's goroutine: it should not
	// block for long.
	OnReplayLost func()

	// Logger receives the subscriber's logs; nil: none.
	Logger *zap.Logger
	// Registry receives the subscriber's metrics; nil: none.
	Registry prometheus.Registerer

	// RetryInitial and RetryMax bound the exponential backoff between
	// subscription attempts; defaults DefaultRetryInitial and
	// DefaultRetryMax.
	RetryInitial, RetryMax time.Duration
	// RPCTimeout bounds GetTopic and GetSchema; default DefaultRPCTimeout.
	RPCTimeout time.Duration
	// IdleTimeout is how long the stream may stay silent (no events, no
	// keepalive) before it is taken for dead and resubscribed; default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// withDefaults returns c with its defaults filled in, or why it cannot be
// used.
func (c Config) withDefaults() (Config, error) {
	if c.Login == nil {
		return c, errors.New("pubsub: config: Login is required")
	}
	if c.Store == nil {
		return c, errors.New("pubsub: config: Store is required")
	}
	if c.Sink == nil {
		return c, errors.New("pubsub: config: Sink is required")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = MaxBatchSize
	case c.BatchSize < 0 || c.BatchSize > MaxBatchSize:
		return c, fmt.Errorf("pubsub: config: BatchSize %d: want 1 to %d", c.BatchSize, MaxBatchSize)
	}
	switch c.StartPreset {
	case eventbus.ReplayPreset_LATEST, eventbus.ReplayPreset_EARLIEST:
	default:
		return c, fmt.Errorf("pubsub: config: StartPreset %v: want LATEST or EARLIEST (CUSTOM is used with the stored replay id)", c.StartPreset)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RetryInitial", &c.RetryInitial, DefaultRetryInitial},
		{"RetryMax", &c.RetryMax, DefaultRetryMax},
		{"RPCTimeout", &c.RPCTimeout, DefaultRPCTimeout},
		{"IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return c, fmt.Errorf("pubsub: config: %s %v: want a positive duration", d.name, *d.v)
		}
	}
	if c.RetryMax < c.RetryInitial {
		return c, fmt.Errorf("pubsub: config: RetryMax %v is below RetryInitial %v", c.RetryMax, c.RetryInitial)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}

// isLoopback reports whether a host:port names this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
