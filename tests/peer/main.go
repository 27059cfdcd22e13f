// elector-peer: a client-go leader election peer for elector's interoperability
// tests and benchmarks. It campaigns for a coordination.k8s.io/v1 Lease with
// the client-go leader elector (LeaseLock) of the Kubernetes tree it is built
// in, and prints one line per event to stdout, each written at once:
//
//	event=starting id=<id> lease=<ns>/<name> lease_duration=4s renew_deadline=3s retry_period=1s release_on_cancel=true mono=<s.ns> wall=<RFC 3339, UTC, 9 digits>
//	event=new-leader id=<id> leader=<identity, empty after a release> mono=... wall=...
//	event=started-leading id=<id> mono=... wall=...
//	event=signal id=<id> signal=<terminated|interrupt> mono=... wall=...
//	event=stopped-leading id=<id> was_leader=<true|false> mono=... wall=...
//	event=exiting id=<id> reason=<signal|lost-lease> code=<exit status> mono=... wall=...
//
// mono is CLOCK_MONOTONIC (seconds.nanoseconds), comparable across processes
// on one machine; wall is the real-time clock. Fields are space-separated
// key=value pairs; identities must not contain white space.
//
// SIGTERM or SIGINT cancels the election: with --release-on-cancel (the
// default) a leader first releases the Lease (client-go writes an empty
// holderIdentity and leaseDurationSeconds=1), stopped-leading is printed after
// that write, and the program exits 0. A second signal exits 1 at once. A
// leader that fails to renew within --renew-deadline exits 1 (reason
// lost-lease), as kube-controller-manager does. Bad flags exit 2.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// wallFormat is RFC 3339 with a fixed nine-digit fraction, so every line has
// the same shape (time.RFC3339Nano drops trailing zeros).
const wallFormat = "2006-01-02T15:04:05.000000000Z07:00"

// out writes event lines. os.Stdout is unbuffered: each Write is one write(2),
// so a line is out as soon as it is printed, and the mutex keeps lines whole
// although client-go calls the callbacks on goroutines of their own.
type out struct {
	mu sync.Mutex
	id string
}

func monotonic() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "error"
	}
	return fmt.Sprintf("%d.%09d", ts.Sec, ts.Nsec)
}

// event prints "event=<name> id=<id> <fields...> mono=... wall=...". Both
// clocks are read before the lock is taken, at the moment of the event.
func (o *out) event(name string, fields ...string) {
	mono := monotonic()
	wall := time.Now().UTC().Format(wallFormat)
	var b strings.Builder
	b.WriteString("event=")
	b.WriteString(name)
	b.WriteString(" id=")
	b.WriteString(o.id)
	for _, f := range fields {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	b.WriteString(" mono=")
	b.WriteString(mono)
	b.WriteString(" wall=")
	b.WriteString(wall)
	b.WriteByte('\n')
	o.mu.Lock()
	os.Stdout.WriteString(b.String())
	o.mu.Unlock()
}

// quietKlog sends klog's errors (and fatals) to stderr and drops the rest:
// client-go's leader elector logs every acquisition attempt at Info level.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"logtostderr":     "false",
		"alsologtostderr": "false",
		"stderrthreshold": "ERROR",
		"v":               "0",
	} {
		if err := fs.Set(name, value); err != nil {
			fmt.Fprintf(os.Stderr, "elector-peer: klog flag %s: %v\n", name, err)
			os.Exit(2)
		}
	}
	// With logtostderr off, klog writes every severity to its "files";
	// pointing them at a discarding writer keeps it from creating log files
	// in the temporary directory.
	klog.SetOutput(ioutil.Discard)
}

func usageError(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "elector-peer: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	quietKlog()

	hostname, _ := os.Hostname()
	var (
		kubeconfig      = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file (default $KUBECONFIG; empty: in-cluster configuration)")
		id              = flag.String("id", fmt.Sprintf("%s_%d", hostname, os.Getpid()), "identity written to the Lease's holderIdentity")
		leaseName       = flag.String("lease-name", "", "name of the Lease (required)")
		leaseNamespace  = flag.String("lease-namespace", "default", "namespace of the Lease")
		leaseDuration   = flag.Duration("lease-duration", 15*time.Second, "how long non-leaders wait after the last observed change before taking over")
		renewDeadline   = flag.Duration("renew-deadline", 10*time.Second, "how long the leader retries renewing before it gives up")
		retryPeriod     = flag.Duration("retry-period", 2*time.Second, "interval between attempts to acquire or renew")
		releaseOnCancel = flag.Bool("release-on-cancel", true, "release the Lease when stopped by SIGTERM/SIGINT")
		qps             = flag.Float64("qps", 50, "client QPS limit")
		burst           = flag.Int("burst", 100, "client burst limit")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		usageError("unexpected arguments: %v", flag.Args())
	}
	if *leaseName == "" {
		usageError("--lease-name is required")
	}
	if *id == "" || strings.ContainsAny(*id, " \t\r\n") {
		usageError("--id must be non-empty and contain no white space: %q", *id)
	}

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		usageError("loading the client configuration: %v", err)
	}
	config.QPS = float32(*qps)
	config.Burst = *burst
	// A request may not outlive the renew deadline; this also bounds the
	// release write made after the context is cancelled (client-go makes it
	// with context.TODO()).
	config.Timeout = *renewDeadline
	config = rest.AddUserAgent(config, "elector-peer/"+*id)
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		usageError("creating the client: %v", err)
	}

	o := &out{id: *id}
	lock := &resourcelock.LeaseLock{
		LeaseMeta: metav1.ObjectMeta{Namespace: *leaseNamespace, Name: *leaseName},
		Client:    client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{
			Identity: *id,
		},
	}

	var (
		stateMu   sync.Mutex
		wasLeader bool
		signalled bool
		ctx, stop = context.WithCancel(context.Background())
		signals   = make(chan os.Signal, 2)
	)
	defer stop()

	lec := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: *releaseOnCancel,
		Name:            *leaseNamespace + "/" + *leaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				stateMu.Lock()
				wasLeader = true
				stateMu.Unlock()
				o.event("started-leading")
			},
			OnStoppedLeading: func() {
				stateMu.Lock()
				led := wasLeader
				stateMu.Unlock()
				o.event("stopped-leading", fmt.Sprintf("was_leader=%t", led))
			},
			OnNewLeader: func(identity string) {
				o.event("new-leader", "leader="+identity)
			},
		},
	}
	// RunOrDie panics on a bad configuration; check it first to fail with a
	// message and status 2 instead (e.g. renew deadline >= lease duration).
	if _, err := leaderelection.NewLeaderElector(lec); err != nil {
		usageError("invalid leader election configuration: %v", err)
	}

	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		stateMu.Lock()
		signalled = true
		stateMu.Unlock()
		o.event("signal", "signal="+signalName(sig))
		stop()
		<-signals
		o.event("exiting", "reason=second-signal", "code=1")
		os.Exit(1)
	}()

	o.event("starting",
		"lease="+*leaseNamespace+"/"+*leaseName,
		"lease_duration="+leaseDuration.String(),
		"renew_deadline="+renewDeadline.String(),
		"retry_period="+retryPeriod.String(),
		fmt.Sprintf("release_on_cancel=%t", *releaseOnCancel))

	leaderelection.RunOrDie(ctx, lec)

	// RunOrDie returns when the context is cancelled (after the release, if
	// asked for) or when the leader failed to renew in time.
	stateMu.Lock()
	bySignal := signalled
	stateMu.Unlock()
	if bySignal {
		o.event("exiting", "reason=signal", "code=0")
		os.Exit(0)
	}
	o.event("exiting", "reason=lost-lease", "code=1")
	os.Exit(1)
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "terminated"
	case syscall.SIGINT:
		return "interrupt"
	}
	return strings.ReplaceAll(sig.String(), " ", "-")
}
