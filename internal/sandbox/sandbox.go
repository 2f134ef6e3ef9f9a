package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Defaults for the options whose zero value is replaced.
const (
	DefaultRegion              = "us-east-1"
	DefaultAccountID           = "123456789012"
	DefaultTerminatedRetention = time.Hour
	DefaultSpotNotice          = 2 * time.Minute
	// DefaultPendingDelay is what `ohfp sandbox` should pass as PendingDelay
	// to look like EC2; the zero value of Options means "running at once".
	DefaultPendingDelay = 2 * time.Second
	// DefaultFleetDelay is what `ohfp sandbox` should pass as FleetDelay:
	// fleets and groups launch a few seconds after being asked, like AWS's.
	DefaultFleetDelay = 5 * time.Second
)

// Options configure a Sandbox. Zero values give a sandbox in us-east-1 whose
// instances run and terminate at once.
type Options struct {
	Region    string // default us-east-1
	AccountID string // default 123456789012

	PendingDelay  time.Duration // pending -> running; 0 means at once
	ShutdownDelay time.Duration // shutting-down -> terminated; 0 means at once

	// TerminatedRetention is how long terminated instances stay visible
	// (default 1h), like EC2.
	TerminatedRetention time.Duration
	// ConsistencyDelay hides a new instance from every call but the launch
	// answer for this long, copying EC2's eventual consistency (default 0).
	ConsistencyDelay time.Duration
	// SpotNotice is the time between an interruption notice and the
	// instance's termination (default 2m).
	SpotNotice time.Duration

	// FleetDelay is how long EC2 Fleets, Spot Fleets and Auto Scaling
	// groups take to launch after they are created, raised, or lose an
	// instance (default 0: at the next call). Instant fleets launch at once.
	FleetDelay time.Duration

	// Latency delays every AWS answer, like a network round trip (default
	// none). See the package doc for why clients without a body guard may
	// want some.
	Latency time.Duration

	// StateFile, when set, makes Serve load the world from this JSON file
	// (if it exists) before listening, save it within a second of every
	// change, and once more on shutdown, so `ohfp sandbox` survives restarts.
	// Faults, pauses and call counters are not kept.
	StateFile string

	// Now is the base clock (default time.Now). Sandbox time is Now plus
	// whatever Advance added.
	Now func() time.Time
	// Logger receives one debug line per call (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.TerminatedRetention <= 0 {
		o.TerminatedRetention = DefaultTerminatedRetention
	}
	if o.SpotNotice <= 0 {
		o.SpotNotice = DefaultSpotNotice
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Sandbox is a local AWS endpoint. It is safe for concurrent use.
type Sandbox struct {
	opts     Options
	offset   atomic.Int64 // nanoseconds added to opts.Now by Advance
	epoch    uint32       // random per sandbox, so ids differ across runs
	services map[string]*service
	versions map[string]string // query protocol Version -> service name
	calls    map[string]*atomic.Int64
	control  *http.ServeMux

	faults  faults // own lock: consulted before the world lock is taken
	journal journal

	mu      sync.RWMutex // guards the world below
	world   world
	version atomic.Uint64 // counts changes to the world, for saving
	growing atomic.Int64  // fleets and groups that may launch; see settle
}

// update write-locks the world for a change; call the result to unlock.
func (s *Sandbox) update() (unlock func()) {
	s.mu.Lock()
	return func() {
		s.version.Add(1)
		s.mu.Unlock()
	}
}

// New makes a sandbox with default images, subnets, a security group, a key
// pair and SSM parameters.
func New(opts Options) *Sandbox {
	s := &Sandbox{
		opts:     opts.withDefaults(),
		epoch:    rand.Uint32(),
		services: map[string]*service{},
		versions: map[string]string{},
		calls:    map[string]*atomic.Int64{},
	}
	s.world = newWorld(s.opts)
	s.register(ec2Service(), ec2Version)
	s.register(ssmService(), "")
	s.register(autoscalingService(), autoscalingVersion)
	s.register(stsService(), stsVersion)
	s.control = s.controlMux()
	return s
}

// register adds a service; version is its query-protocol Version ("" for
// JSON protocols).
func (s *Sandbox) register(svc *service, version string) {
	s.services[svc.name] = svc
	if version != "" {
		s.versions[version] = svc.name
	}
	for action := range svc.actions {
		s.calls[svc.name+":"+action] = new(atomic.Int64)
	}
}

// Now is the sandbox's current time.
func (s *Sandbox) Now() time.Time {
	return s.opts.Now().Add(time.Duration(s.offset.Load())).UTC()
}

// Advance moves sandbox time forward by d, so delays and interruptions can
// be driven without waiting.
func (s *Sandbox) Advance(d time.Duration) {
	s.offset.Add(int64(d))
	s.version.Add(1)
}

// Calls counts the calls per action since the last ResetCalls, keyed
// "service:Action" (e.g. "ec2:RunInstances"). Actions never called are absent.
func (s *Sandbox) Calls() map[string]int64 {
	out := map[string]int64{}
	for k, c := range s.calls {
		if n := c.Load(); n > 0 {
			out[k] = n
		}
	}
	return out
}

// ResetCalls sets every call counter to zero.
func (s *Sandbox) ResetCalls() {
	for _, c := range s.calls {
		c.Store(0)
	}
}

// Serve listens on addr (e.g. 127.0.0.1:0), calls ready with the base URL
// once it accepts connections, and serves until ctx is done.
func (s *Sandbox) Serve(ctx context.Context, addr string, ready func(url string)) error {
	if s.opts.StateFile != "" {
		if err := s.Load(s.opts.StateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		defer s.keepSaved(s.opts.StateFile)()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	select {
	case err := <-done:
		return fmt.Errorf("sandbox: serve: %w", err)
	case <-ctx.Done():
	}
	s.Release("") // paused calls must not hold the shutdown
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sandbox: serve: %w", err)
	}
	return nil
}

// handler runs one action. It reads c and writes the success body to
// c.out; an *apiError return becomes the service's error answer.
type handler func(s *Sandbox, c *call) error

// service is one AWS API the sandbox speaks.
type service struct {
	name        string // signing name, e.g. "ec2"
	contentType string
	actions     map[string]handler
	// writeError renders e in the service's protocol.
	writeError func(b *bytes.Buffer, requestID string, e *apiError)
}

// call is one decoded request.
type call struct {
	ctx       context.Context
	action    string
	requestID string
	now       time.Time
	form      params // query protocols
	body      []byte // JSON protocols
	out       *bytes.Buffer
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP answers AWS calls, and the control API under /_sandbox/.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.control.ServeHTTP(w, r)
		return
	}
	c := &call{ctx: r.Context(), requestID: uuid.NewString()}
	svc, err := s.decode(r, c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	defer bufPool.Put(out)
	c.out = out

	status, code := http.StatusOK, ""
	if err := s.run(svc, c); errors.Is(err, errDrop) {
		panic(http.ErrAbortHandler) // net/http closes the connection unanswered
	} else if err != nil {
		ae := asAPIError(err)
		out.Reset()
		svc.writeError(out, c.requestID, ae)
		status, code = ae.Status, ae.Code
	}
	s.opts.Logger.Debug("sandbox call", "action", svc.name+":"+c.action, "status", status, "code", code)
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	w.Header().Set("Content-Type", svc.contentType)
	w.Header().Set("X-Amzn-RequestId", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(status)
	w.Write(out.Bytes())
}

// run counts, applies faults and pauses, and calls the action's handler.
func (s *Sandbox) run(svc *service, c *call) error {
	h, ok := svc.actions[c.action]
	if !ok {
		return unknownAction(svc.name, c.action)
	}
	key := svc.name + ":" + c.action
	s.calls[key].Add(1)
	s.record(key, c)
	if err := s.faults.apply(c.ctx, key); err != nil {
		return err
	}
	s.faults.wait(c.ctx, key, PauseBefore)
	c.now = s.Now()
	s.settle(c.now)
	if err := h(s, c); err != nil {
		return err
	}
	s.faults.wait(c.ctx, key, PauseAfter)
	return nil
}

// decode finds the service and action of r and fills c.
func (s *Sandbox) decode(r *http.Request, c *call) (*service, error) {
	name := signingName(r.Header.Get("Authorization"))
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		_, action, ok := strings.Cut(target, ".")
		if !ok {
			return nil, fmt.Errorf("malformed X-Amz-Target %q", target)
		}
		c.action = action
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		c.body = body
		if name == "" && strings.HasPrefix(target, "AmazonSSM.") {
			name = "ssm"
		}
	} else {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("parse form: %w", err)
		}
		c.form = params(r.Form)
		c.action = r.Form.Get("Action")
		if name == "" {
			name = s.versions[r.Form.Get("Version")]
		}
	}
	svc, ok := s.services[name]
	if !ok {
		return nil, fmt.Errorf("sandbox: no such service %q", name)
	}
	return svc, nil
}

// signingName is the service of a SigV4 Authorization header's credential
// scope (".../us-east-1/ec2/aws4_request"), or "".
func signingName(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[len(parts)-2]
}

// params are the form values of a query-protocol request.
type params url.Values

func (p params) get(key string) string { return url.Values(p).Get(key) }

func (p params) has(key string) bool {
	_, ok := p[key]
	return ok
}
