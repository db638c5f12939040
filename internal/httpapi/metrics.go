package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus series.
type metrics struct {
	gatherer   prometheus.Gatherer
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	bookings   *prometheus.CounterVec
	slotSearch prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	var gatherer prometheus.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	}
	m := &metrics{
		gatherer: gatherer,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdvsync_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdvsync_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		bookings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdvsync_bookings_total", Help: "Booking attempts by outcome.",
		}, []string{"outcome"}),
		slotSearch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdvsync_slot_search_duration_seconds", Help: "Slot search latency (slots and slots/next).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.bookings, m.slotSearch)
	return m
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// BookingOutcome implements booking.Observer.
func (a *API) BookingOutcome(outcome string) { a.metrics.bookings.WithLabelValues(outcome).Inc() }

func (m *metrics) handler() http.Handler {
	if m.gatherer == nil {
		return promhttp.Handler()
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}
