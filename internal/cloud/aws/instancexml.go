package aws

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ohfp/ohfp/internal/cloud"
)

// The instances of DescribeInstances and RunInstances answers are read
// from EC2's XML as it arrives, straight into cloud.Instance, instead of
// through the SDK's decoder: that one builds the whole of every instance
// (network interfaces, block devices, ...) through encoding/xml, and at
// 10,000 instances it was most of a poll's time and memory. The SDK still
// sends, signs, retries and reads errors; only a successful answer's
// instances are taken here. BenchmarkInstanceXML measures both, and
// TestInstanceXMLAsTheSDK holds them equal.

// instanceStream is a middleware of the SDK's deserialize step, inside its
// own decoder: it reads the instances of a successful answer into sink
// and hands the SDK's decoder the rest of the answer's top level (the
// next token, the reservation id) without them.
type instanceStream struct{ sink *instanceSink }

func (instanceStream) ID() string { return "ohfp:InstanceStream" }

func (m instanceStream) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return out, md, nil // the SDK reads errors
	}
	var insts []cloud.Instance
	top, err := decodeInstances(resp.Body, func(in cloud.Instance) { insts = append(insts, in) })
	resp.Body.Close()
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("reading the instances of EC2's answer: %w", err)}
	}
	m.sink.set(insts)
	resp.Body = io.NopCloser(bytes.NewReader(top))
	return out, md, nil
}

// instanceSink takes the instances of one call's answer; a retried call
// replaces those of the attempt before.
type instanceSink struct {
	mu    sync.Mutex
	insts []cloud.Instance
	read  bool // the answer's instances were read here, not by the SDK
}

func (s *instanceSink) set(insts []cloud.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insts, s.read = insts, true
}

// take returns the instances read, and whether they were read here (a
// client without the middleware, such as a test's fake, leaves them to
// the SDK's output).
func (s *instanceSink) take() ([]cloud.Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	insts, read := s.insts, s.read
	s.insts, s.read = nil, false
	return insts, read
}

// streamInstances is the option that reads a call's instances into sink.
func streamInstances(sink *instanceSink) func(*ec2.Options) {
	return func(o *ec2.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Deserialize.Add(instanceStream{sink}, middleware.After)
		})
	}
}

// The paths, from the answer's root element, of the elements that are
// instances: in DescribeInstances' reservations, and in RunInstances'.
var instancePaths = [][]string{
	{"reservationSet", "item", "instancesSet", "item"},
	{"instancesSet", "item"},
}

// decodeInstances reads an EC2 answer holding instances from r, calling
// each for every instance as soon as it is read. It returns the answer
// without its instances: the root element with its other simple children
// (nextToken, reservationId, requestId), for the SDK's decoder.
func decodeInstances(r io.Reader, each func(cloud.Instance)) ([]byte, error) {
	x := xmlScanner{r: bufio.NewReaderSize(r, 64<<10), intern: map[string]string{}}
	var (
		path []string // open elements below the root
		root string
		done bool
		top  bytes.Buffer
	)
	for {
		tok, err := x.next()
		switch {
		case err == io.EOF && done:
			return top.Bytes(), nil
		case err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		case done:
			return nil, errors.New("an element after the root element")
		}
		switch {
		case tok.open && root == "":
			root = string(tok.name)
			top.WriteString("<" + root + ">")
		case tok.open && isInstancePath(append(path, string(tok.name))):
			in, err := x.instance()
			if err != nil {
				return nil, err
			}
			each(in)
		case tok.open:
			path = append(path, string(tok.name))
		case len(path) == 0:
			top.WriteString("</" + root + ">")
			done = true
		default:
			if len(path) == 1 && tok.leaf {
				// A simple child of the root: kept for the SDK.
				top.WriteString("<" + path[0] + ">")
				top.WriteString(html.EscapeString(string(tok.text)))
				top.WriteString("</" + path[0] + ">")
			}
			path = path[:len(path)-1]
		}
	}
}

func isInstancePath(path []string) bool {
	for _, p := range instancePaths {
		if slices.Equal(p, path) {
			return true
		}
	}
	return false
}

// instance reads one instance element, its start already read, up to its
// end: the fields cloud.Instance keeps, named as EC2's XML names them
// (the SDK's types.Instance: privateDnsName is PrivateDnsName, ipAddress
// PublicIpAddress, dnsName PublicDnsName, reason StateTransitionReason).
func (x *xmlScanner) instance() (cloud.Instance, error) {
	var (
		in         cloud.Instance
		path       []string // open elements below the instance
		key, value string   // of the tag being read
		reason     string   // the state transition reason
	)
	for {
		tok, err := x.next()
		if err == io.EOF {
			return in, io.ErrUnexpectedEOF
		}
		if err != nil {
			return in, err
		}
		if tok.open {
			path = append(path, x.str(tok.name))
			if len(path) == 2 && path[0] == "tagSet" {
				key, value = "", ""
			}
			continue
		}
		if len(path) == 0 {
			// The instance's own end. The state reason wins over the state
			// transition reason.
			in.StateReason = cmp.Or(in.StateReason, reason)
			return in, nil
		}
		v := tok.text
		switch {
		case len(path) == 2 && path[0] == "tagSet" && path[1] == "item" && !tok.leaf:
			if in.Tags == nil {
				in.Tags = map[string]string{}
			}
			in.Tags[key] = value
		case !tok.leaf:
		case len(path) == 1:
			switch path[0] {
			case "instanceId":
				in.ID = string(v)
			case "privateDnsName":
				in.Name = string(v)
			case "privateIpAddress":
				in.PrivateIP = string(v)
			case "ipAddress":
				in.PublicIP = string(v)
			case "dnsName":
				in.PublicDNS = string(v)
			case "instanceType":
				in.InstanceType = x.str(v)
			case "instanceLifecycle":
				in.Spot = string(v) == "spot"
			case "spotInstanceRequestId":
				in.SpotRequestID = string(v)
			case "reason":
				reason = string(v)
			case "launchTime":
				if in.LaunchTime, err = time.Parse(time.RFC3339Nano, string(v)); err != nil {
					return in, fmt.Errorf("instance %s: launchTime: %w", in.ID, err)
				}
			}
		case len(path) == 2:
			switch path[0] + "/" + path[1] {
			case "instanceState/name":
				in.State = cloud.State(x.str(v))
			case "stateReason/message":
				in.StateReason = string(v)
			case "placement/availabilityZone":
				in.Zone = x.str(v)
			case "cpuOptions/coreCount":
				in.Cores, err = strconv.Atoi(string(v))
			case "cpuOptions/threadsPerCore":
				in.ThreadsPerCore, err = strconv.Atoi(string(v))
			}
			if err != nil {
				return in, fmt.Errorf("instance %s: %s: %w", in.ID, path[1], err)
			}
		case len(path) == 3 && path[0] == "tagSet" && path[1] == "item":
			switch path[2] {
			case "key":
				key = x.str(v)
			case "value":
				value = x.str(v)
			}
		}
		path = path[:len(path)-1]
	}
}

// xmlScanner reads the elements and text of an XML document: enough XML
// for AWS's answers (elements, with attributes skipped; the five entities
// and character references; comments and the declaration skipped).
type xmlScanner struct {
	r      *bufio.Reader
	text   []byte
	closed []byte // the name of an element <a/> still to end
	self   []byte // closed's storage
	opened bool   // the last token was an element's start
	intern map[string]string
}

// token is an element's start or end. An end of an element with no
// element inside is a leaf, and carries its text. Name and text stay
// valid until the next call.
type token struct {
	open bool
	leaf bool
	name []byte
	text []byte
}

// next reads the next element start or end.
func (x *xmlScanner) next() (token, error) {
	if x.closed != nil {
		tok := token{name: x.closed, leaf: true, text: x.text[:0]}
		x.closed, x.opened = nil, false
		return tok, nil
	}
	x.text = x.text[:0]
	for {
		chunk, err := x.r.ReadSlice('<')
		x.text = append(x.text, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(bytes.TrimSpace(x.text)) > 0 {
			return token{}, io.ErrUnexpectedEOF
		}
		if err != nil {
			return token{}, err
		}
		break
	}
	x.text = x.text[:len(x.text)-1] // the '<'
	tag, err := x.r.ReadSlice('>')
	switch {
	case err == bufio.ErrBufferFull:
		return token{}, errors.New("an XML tag over 64 KiB")
	case err != nil:
		return token{}, io.ErrUnexpectedEOF
	}
	tag = tag[:len(tag)-1]
	switch {
	case len(tag) == 0:
		return token{}, errors.New("an empty XML tag")
	case tag[0] == '?': // <?xml ...?>
		return x.next()
	case bytes.HasPrefix(tag, []byte("!--")):
		for !bytes.HasSuffix(tag, []byte("--")) {
			if tag, err = x.r.ReadSlice('>'); err != nil {
				return token{}, io.ErrUnexpectedEOF
			}
			tag = tag[:len(tag)-1]
		}
		return x.next()
	case tag[0] == '!':
		return token{}, fmt.Errorf("unexpected XML <%.20s", tag)
	case tag[0] == '/':
		text, err := unescape(x.text)
		tok := token{name: bytes.TrimSpace(tag[1:]), leaf: x.opened, text: text}
		x.opened = false
		return tok, err
	}
	self := tag[len(tag)-1] == '/'
	if self {
		tag = tag[:len(tag)-1]
	}
	if i := bytes.IndexAny(tag, " \t\r\n"); i >= 0 {
		tag = tag[:i] // attributes, such as xmlns, are not read
	}
	if self {
		// <a/> is <a></a>: its end comes next.
		x.self = append(x.self[:0], tag...)
		x.closed = x.self
	}
	x.opened = true
	return token{open: true, name: tag}, nil
}

// str returns b as a string, the same one for the same bytes: instance
// types, zones, states and tag keys repeat across instances.
func (x *xmlScanner) str(b []byte) string {
	if s, ok := x.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(x.intern) < 4096 {
		x.intern[s] = s
	}
	return s
}

// xmlEntities are the entities XML predefines.
var xmlEntities = map[string]byte{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\''}

// unescape replaces XML's entities and character references in b, in place.
func unescape(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, '&') < 0 {
		return b, nil
	}
	out := b[:0]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			return append(out, b...), nil
		}
		out = append(out, b[:i]...)
		end := bytes.IndexByte(b[i:], ';')
		if end < 0 {
			return nil, fmt.Errorf("an unterminated XML entity in %.40q", b)
		}
		name := string(b[i+1 : i+end])
		b = b[i+end+1:]
		if c, ok := xmlEntities[name]; ok {
			out = append(out, c)
			continue
		}
		var r uint64
		var err error
		switch {
		case strings.HasPrefix(name, "#x"):
			r, err = strconv.ParseUint(name[2:], 16, 32)
		case strings.HasPrefix(name, "#"):
			r, err = strconv.ParseUint(name[1:], 10, 32)
		default:
			err = errors.New("unknown")
		}
		if err != nil || !utf8.ValidRune(rune(r)) {
			return nil, fmt.Errorf("the XML entity &%s;", name)
		}
		out = utf8.AppendRune(out, rune(r))
	}
	return out, nil
}
