package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// DefaultTimeout bounds one scrape or one health check.
const DefaultTimeout = 2 * time.Second

// maxBody bounds the size of a metrics page read.
const maxBody = 16 << 20

// The formats a Scraper reads, as FormatError names them.
const (
	// FormatPrometheus is the Prometheus exposition format (text, or
	// what the Content-Type says: OpenMetrics, delimited protobuf).
	FormatPrometheus = "Prometheus text"
	// FormatExpvar is the JSON of Go's expvar package (/debug/vars).
	FormatExpvar = "expvar JSON"
)

// accept asks for the text format first: every Prometheus client library
// can write it.
const accept = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.8,application/json;q=0.5,*/*;q=0.1"

// NewClient returns an HTTP client for the guest's endpoints: no proxy
// (the guest is reached on loopback through a forwarded port), each request
// bounded by DefaultTimeout, connections kept alive between requests. Call
// its CloseIdleConnections when done with it.
func NewClient() *http.Client {
	return &http.Client{
		Timeout: DefaultTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// oneShotClient is the client used when a caller passes none: like
// NewClient's, without keeping connections that nobody would close.
func oneShotClient() *http.Client {
	return &http.Client{Timeout: DefaultTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

// Scraper reads the application's metrics from one URL. Its Scrape
// implements the sampler's AppSource.
type Scraper struct {
	url    string
	client *http.Client
	// Timeout bounds one Scrape, whatever the client's own timeout;
	// zero leaves it to the context and the client.
	Timeout time.Duration
}

// NewScraper returns a Scraper of url (as ResolveURL returns it) through
// client; a nil client makes a new connection for every scrape. Timeout
// is DefaultTimeout.
func NewScraper(url string, client *http.Client) *Scraper {
	if client == nil {
		client = oneShotClient()
	}
	return &Scraper{url: url, client: client, Timeout: DefaultTimeout}
}

// URL returns the URL the scraper reads.
func (s *Scraper) URL() string { return s.url }

// Scrape fetches the metrics page once and returns its values by series.
// The format is the one the Content-Type names (a Prometheus format, or
// JSON for expvar); without one it is sniffed: a body starting with '{'
// is expvar's JSON, anything else the Prometheus text format.
//
// A Prometheus sample is keyed `name` or `name{label="value",...}`, its
// labels in the order expfmt gives them; a summary gives `name_sum`,
// `name_count` and `name{...,quantile="0.5"}`, a histogram `name_sum`,
// `name_count` and `name_bucket{...,le="0.5"}`. Expvar's numbers are keyed
// by their path, objects flattened with dots (`memstats.HeapAlloc`);
// strings, booleans and arrays are left out. Values that are not finite
// (a summary without observations) are left out too.
//
// A failure is wrapped as "metrics: scrape: ...": a *StatusError for an
// answer other than 2xx, a *FormatError for a body that is not what it
// should be, or the transport's error (refused, timed out).
func (s *Scraper) Scrape(ctx context.Context) (map[string]float64, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	body, header, err := get(ctx, s.client, s.url, accept, maxBody)
	if err != nil {
		return nil, fmt.Errorf("metrics: scrape: %w", err)
	}
	vals, err := parse(s.url, body, header)
	if err != nil {
		return nil, fmt.Errorf("metrics: scrape: %w", err)
	}
	return vals, nil
}

// StatusError is an answer whose HTTP status is not 2xx.
type StatusError struct {
	// URL is the URL requested.
	URL string
	// Code is the HTTP status code; Status its text ("503 Service
	// Unavailable").
	Code   int
	Status string
	// Body is the start of the answer's first line, made printable
	// (it comes from the guest); empty when there was none.
	Body string
}

// Error says what answered what: "http://...: 503 Service Unavailable: db down".
func (e *StatusError) Error() string {
	s := e.URL + ": " + e.Status
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// FormatError is a metrics page that could not be read as Format.
type FormatError struct {
	// URL is the URL scraped.
	URL string
	// Format is FormatPrometheus or FormatExpvar.
	Format string
	// Err is the parser's error, with its line for the text format.
	Err error
}

// Error says where the page came from and why it is not in its format.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: not %s: %v", e.URL, e.Format, e.Err)
}

// Unwrap returns the parser's error.
func (e *FormatError) Unwrap() error { return e.Err }

// ErrTooLarge is returned (wrapped) when an answer is longer than ukdev
// reads.
var ErrTooLarge = errors.New("answer too large")

// get requests url and returns at most limit bytes of its body. An answer
// other than 2xx is a *StatusError.
func get(ctx context.Context, client *http.Client, url, accept string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, nil, &StatusError{URL: url, Code: resp.StatusCode, Status: resp.Status, Body: firstLine(head, 120)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", url, err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%s: %w: more than %d bytes", url, ErrTooLarge, limit)
	}
	return body, resp.Header, nil
}

// firstLine returns the start of the first non-blank line of b, at most n
// bytes, with anything unprintable replaced: it is the guest's text.
func firstLine(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}

// parse reads a metrics page in the format its header names, or sniffed.
func parse(url string, body []byte, header http.Header) (map[string]float64, error) {
	mediaType, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	format := expfmt.ResponseFormat(header)
	switch {
	case mediaType == "application/json":
		return parseExpvar(url, body)
	case format != expfmt.FmtUnknown:
	case bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return parseExpvar(url, body)
	default:
		format = expfmt.NewFormat(expfmt.TypeTextPlain)
	}
	vals := map[string]float64{}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return nil, &FormatError{URL: url, Format: FormatPrometheus, Err: err}
		}
		addFamily(vals, &mf)
	}
}

// addFamily adds the samples of one metric family to vals.
func addFamily(vals map[string]float64, mf *dto.MetricFamily) {
	name := mf.GetName()
	put := func(name string, labels []*dto.LabelPair, extra, value string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		vals[seriesKey(name, labels, extra, value)] = v
	}
	for _, m := range mf.GetMetric() {
		labels := m.GetLabel()
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			put(name, labels, "", "", m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			put(name, labels, "", "", m.GetGauge().GetValue())
		case dto.MetricType_UNTYPED:
			put(name, labels, "", "", m.GetUntyped().GetValue())
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			put(name+"_sum", labels, "", "", s.GetSampleSum())
			put(name+"_count", labels, "", "", float64(s.GetSampleCount()))
			for _, q := range s.GetQuantile() {
				put(name, labels, "quantile", formatFloat(q.GetQuantile()), q.GetValue())
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			put(name+"_sum", labels, "", "", h.GetSampleSum())
			count := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				count = h.GetSampleCountFloat()
			}
			put(name+"_count", labels, "", "", count)
			for _, b := range h.GetBucket() {
				n := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					n = b.GetCumulativeCountFloat()
				}
				put(name+"_bucket", labels, "le", formatFloat(b.GetUpperBound()), n)
			}
		}
	}
}

// seriesKey writes a sample's key: name{label="value",...}, with the
// extra label (quantile, le) last when there is one.
func seriesKey(name string, labels []*dto.LabelPair, extra, value string) string {
	if len(labels) == 0 && extra == "" {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		writeLabel(&b, l.GetName(), l.GetValue())
	}
	if extra != "" {
		if len(labels) > 0 {
			b.WriteByte(',')
		}
		writeLabel(&b, extra, value)
	}
	b.WriteByte('}')
	return b.String()
}

// labelEscaper escapes a label value as the text format does.
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func writeLabel(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(`="`)
	labelEscaper.WriteString(b, value)
	b.WriteByte('"')
}

// formatFloat writes a bucket bound or a quantile as the text format
// does: "0.5", "1", "+Inf".
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// maxDepth bounds how deep expvar objects are flattened.
const maxDepth = 8

// parseExpvar reads Go's expvar JSON: one object whose numbers, nested
// objects flattened with dots, are the values.
func parseExpvar(url string, body []byte) (map[string]float64, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &FormatError{URL: url, Format: FormatExpvar, Err: err}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, &FormatError{URL: url, Format: FormatExpvar, Err: errors.New("the JSON is not an object")}
	}
	vals := map[string]float64{}
	flatten(vals, "", obj, 0)
	return vals, nil
}

func flatten(vals map[string]float64, prefix string, obj map[string]any, depth int) {
	for k, v := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case float64:
			vals[key] = v
		case map[string]any:
			if depth < maxDepth {
				flatten(vals, key, v, depth+1)
			}
		}
	}
}

// defaultSeries are the series DefaultSeries picks first, in order, when
// the app has them: the Go runtime's and the process's, from the
// Prometheus client or from expvar.
var defaultSeries = []string{
	"go_goroutines",
	"process_resident_memory_bytes",
	"go_memstats_heap_inuse_bytes",
	"memstats.HeapInuse",
	"memstats.HeapAlloc",
	"memstats.NumGC",
}

// maxDefaultSeries is how many series DefaultSeries returns at most.
const maxDefaultSeries = 4

// DefaultSeries picks the series to graph when the config names none,
// from the values of a scrape: the Go runtime's and the process's
// (go_goroutines, process_resident_memory_bytes, the heap in use), and a
// request counter (the first series, sorted, whose name ends in
// _requests_total); when there are none of those, the first few series
// sorted, buckets and quantiles left out.
func DefaultSeries(vals map[string]float64) []string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range defaultSeries {
		if _, ok := vals[k]; ok && len(out) < maxDefaultSeries-1 {
			out = append(out, k)
		}
	}
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "{")
		if strings.HasSuffix(name, "_requests_total") {
			out = append(out, k)
			break
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, k := range keys {
		if len(out) == maxDefaultSeries {
			break
		}
		if !strings.Contains(k, `le="`) && !strings.Contains(k, `quantile="`) {
			out = append(out, k)
		}
	}
	return out
}
