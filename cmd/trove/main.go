// Command trove is long-term memory for AI agents. This file is the
// composition root: it wires configuration, providers and the store into
// the CLI, and holds no logic of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trove-memory/trove/internal/cli"
	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/doctor"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/embedding/static"
	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/gemini"
	"github.com/trove-memory/trove/internal/provider/jina"
	"github.com/trove-memory/trove/internal/provider/ollama"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/pinecone"
	"github.com/trove-memory/trove/internal/provider/siliconflow"
	"github.com/trove-memory/trove/internal/provider/tei"
	"github.com/trove-memory/trove/internal/provider/voyage"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/sqlite"
	"github.com/trove-memory/trove/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, cli.Deps{Getenv: os.Getenv, Stdin: os.Stdin, Open: open, StoreOpener: storeOpener}, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// open wires the store, the providers and the recall pipeline into the
// service every command runs on.
func open(ctx context.Context, cfg config.Config, o cli.OpenOptions) (*service.Service, error) {
	oneShotGC(o.Command)
	if !o.Create {
		if err := storeExists(ctx, cfg.DB); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, cfg, o.Command)
	if err != nil {
		return nil, err
	}
	ids, ok := st.(reembed.IdentityStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("this build's %T store cannot record which embedding model wrote its vectors, so trove cannot check new vectors against them and does not use it", st)
	}
	emb, err := newEmbedder(cfg.Embedding)
	if err != nil {
		st.Close()
		return nil, err
	}
	// Every embedding first checks that the store's vectors come from this
	// model (lazily: a command that embeds nothing calls no provider).
	guard := reembed.NewGuard(ids, space(cfg.Embedding), emb)
	searcher, err := newSearcher(st, guard.Wrap(embedding.NewQueryCache(emb, embedding.DefaultQueryCacheSize)), cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	opts := service.Options{
		Store: st, Embedder: guard, Searcher: searcher, Access: cfg.Access, Declared: cfg.Declared, DefaultScope: cfg.DefaultScope(),
		NewEmbedder: func(t service.EmbedderSpec) (embedding.Embedder, store.Space, error) {
			e := cfg.Embedding
			e.Provider, e.Model, e.Dimensions = t.Provider, t.Model, t.Dimensions
			if t.BaseURL != "" {
				e.BaseURL = t.BaseURL
			}
			emb, err := newEmbedder(e)
			return emb, space(e), err
		},
		Warn: func(msg string) { fmt.Fprintln(os.Stderr, "warning: "+msg) },
		Doctor: doctor.Options{
			AgentAccess:        cfg.AgentAccess,
			TombstoneRetention: cfg.TombstoneRetention.Duration,
			HistoryKeep:        cfg.History.Keep,
			HistoryRetention:   cfg.History.Retention.Duration,
			LockTimeout:        cfg.LockTimeout.Duration,
			// A probe waits no longer than a writer would, and not long.
			ProbeTimeout: min(2*time.Second, cfg.LockTimeout.Duration),
			Version:      version.Get().Version,
		},
	}
	if cfg.LLM.Configured() {
		// One client per process: it learns once whether the endpoint
		// takes JSON schemas, and its connections are reused.
		opts.LLM = sync.OnceValues(func() (llm.Client, error) { return newLLM(cfg.LLM) })
	}
	opts.Capture = service.CaptureOptions{
		MinMessages: cfg.Capture.MinMessages, IdleFlush: cfg.Capture.IdleFlush.Duration,
		IncludeAssistant: cfg.Capture.IncludeAssistant, MaxChars: cfg.Capture.MaxChars, Similarity: cfg.Capture.Similarity,
		RulesOnly: cfg.Capture.Smart != nil && !*cfg.Capture.Smart,
	}
	opts.AllowSecrets = cfg.AllowSecrets
	lc := cfg.Lifecycle.Engine()
	opts.Lifecycle = &lc
	var svc *service.Service // the lifecycle task runs the service's pass
	opts.SuppressTurns = cfg.AutoRecall.SuppressTurns
	opts.ContextItems, opts.ContextChars, opts.ContextItemChars = cfg.AutoRecall.MaxItems, cfg.AutoRecall.MaxChars, cfg.AutoRecall.MaxItemChars
	opts.ContextMode, opts.ContextBudget = cfg.AutoRecall.Mode, cfg.AutoRecall.Timeout.Duration
	if opts.SuppressTurns == 0 {
		opts.SuppressTurns = -1 // the config's 0 is "no limit"; the service's 0 is its default
	}
	if o.Serve {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if every := cfg.Retrieval.AccessFlush.Duration; every > 0 {
			opts.Tracker = service.NewAccessTracker(st, service.AccessOptions{Every: every, Lifecycle: &lc, OnError: func(err error) {
				log.Warn("could not record which memories recall returned; will retry", "error", err.Error())
			}})
		}
		if keep := cfg.TombstoneRetention.Duration; keep > 0 {
			opts.Maintenance = append(opts.Maintenance, service.Task{Name: "prune tombstones", Run: func(ctx context.Context) error {
				p, ok := st.(tombstonePruner)
				if !ok {
					return fmt.Errorf("this store (%T) cannot prune tombstones", st)
				}
				_, err := p.PruneTombstones(ctx, keep)
				return err
			}})
		}
		if keep, keepFor := cfg.History.Keep, cfg.History.Retention.Duration; keep > 0 || keepFor > 0 {
			opts.Maintenance = append(opts.Maintenance, service.PruneHistoryTask(st, keep, keepFor, time.Now))
		}
		opts.Maintenance = append(opts.Maintenance, service.LifecycleTask(func() *service.Service { return svc }))
		opts.Maintenance = append(opts.Maintenance, service.ArchiveExpiredTask(st, cfg.Expiry.Grace.Duration, time.Now),
			service.PruneInjectionsTask(st, service.InjectionRetention, time.Now))
		opts.CaptureWorker = true
		// Consumed capture messages and finished jobs are kept a week (to
		// explain a capture), then pruned; pending ones never are.
		opts.Maintenance = append(opts.Maintenance, service.Task{Name: "prune capture buffer", Run: func(ctx context.Context) error {
			p, ok := st.(capturePruner)
			if !ok {
				return fmt.Errorf("this store (%T) cannot prune its capture buffer", st)
			}
			_, err := p.PruneCapture(ctx, time.Now().Add(-7*24*time.Hour).UnixMilli(), 0)
			return err
		}})
		opts.OnMaintainError = func(task string, err error) {
			log.Warn("maintenance failed; will run again at the next interval", "task", task, "error", err.Error())
		}
	}
	svc = service.New(opts)
	return svc, nil
}

// Stores are used through the contract (store.Store); what a backend may
// lack is found by type assertion: the embedding identity the guard checks
// (reembed.IdentityStore), the pruning the server schedules
// (tombstonePruner, capturePruner), and doctor's checks (doctor.FileStore,
// doctor.ServerStore). Both backends have them all.
type tombstonePruner interface {
	PruneTombstones(ctx context.Context, retention time.Duration) (store.PruneReport, error)
}

type capturePruner interface {
	PruneCapture(ctx context.Context, olderThan int64, batch int) (int, error)
}

var (
	_ reembed.IdentityStore = (*sqlite.Store)(nil)
	_ tombstonePruner       = (*sqlite.Store)(nil)
	_ capturePruner         = (*sqlite.Store)(nil)
	_ doctor.FileStore      = (*sqlite.Store)(nil)
	_ store.Store           = (*postgres.Store)(nil)
	_ reembed.IdentityStore = (*postgres.Store)(nil)
	_ tombstonePruner       = (*postgres.Store)(nil)
	_ capturePruner         = (*postgres.Store)(nil)
	_ doctor.ServerStore    = (*postgres.Store)(nil)
)

// openStore opens the store cfg.DB names: a postgres:// or postgresql://
// URL is a PostgreSQL database, anything else a SQLite file.
func openStore(ctx context.Context, cfg config.Config, command string) (store.Store, error) {
	cmd := fmt.Sprintf("%s (pid %d)", command, os.Getpid())
	if dburl.IsPostgres(cfg.DB) {
		st, err := postgres.Open(ctx, cfg.DB, postgres.Options{
			Space:       space(cfg.Embedding),
			LockTimeout: cfg.LockTimeout.Duration,
			Command:     cmd,
			Version:     version.Get().Version,
		})
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{
		Space:       space(cfg.Embedding),
		LockTimeout: cfg.LockTimeout.Duration,
		Command:     cmd,
		Synchronous: cfg.Synchronous,
		Version:     version.Get().Version,
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// storeOpener opens stores by themselves (trove migrate-store).
func storeOpener(cfg config.Config, command string) service.StoreOpener {
	return func(ctx context.Context, db string, create bool) (store.Store, error) {
		if !create {
			if err := storeExists(ctx, db); err != nil {
				return nil, err
			}
		}
		cfg.DB = db
		return openStore(ctx, cfg, command)
	}
}

// storeExists is nil when there is a store at db, and *service.NoStoreError
// when there is none, so that a command that only reads reports a mistyped
// --db instead of creating an empty store there. A SQLite store is a file;
// a PostgreSQL store is a database in which trove has created its tables
// (the first trove store, import or serve does): a database without them,
// or no database of that name, is no store. Other failures to connect are
// left to opening the store, which says what to check.
func storeExists(ctx context.Context, db string) error {
	if !dburl.IsPostgres(db) {
		if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
			return &service.NoStoreError{Path: db}
		}
		return nil
	}
	ok, err := postgresHasStore(ctx, db)
	if err == nil && !ok {
		return &service.NoStoreError{Path: dburl.Redact(db)}
	}
	return nil
}

// space is the embedding space this configuration writes, recorded in the
// store on its first vector.
func space(e config.Embedding) store.Space {
	if e.Provider == provider.Hash {
		h := embedding.NewHash(e.Dimensions).Info()
		return store.Space{Model: h.Model, Dimensions: h.Dimensions}
	}
	if e.Provider == provider.Static {
		// Dimensions come from the model file's header; an unreadable model
		// leaves them 0 here, and newEmbedder reports why.
		info, _ := static.Describe(e.ModelPath)
		return store.Space{Model: "static:" + info.Model, Dimensions: info.Dimensions}
	}
	model := e.Model
	if model == "" { // the vendor's default, which the embedder will use
		model = map[string]string{provider.Jina: jina.DefaultModel, provider.Voyage: voyage.DefaultModel,
			provider.Ollama: ollama.DefaultModel, provider.Gemini: gemini.DefaultModel}[e.Provider]
	}
	return store.Space{Model: e.Provider + ":" + model, Dimensions: e.Dimensions}
}

// openAIMaxInputChars keeps one input within an OpenAI-style model's
// context (8k tokens is at least 8k characters).
const openAIMaxInputChars = 8192

func newEmbedder(e config.Embedding) (embedding.Embedder, error) {
	oc := openaicompat.Config{BaseURL: e.BaseURL, APIKey: e.APIKey, Model: e.Model, KeyName: "TROVE_EMBED_API_KEY",
		Dimensions: e.Dimensions, BatchSize: e.BatchSize, Timeout: e.Timeout.Duration}
	switch e.Provider {
	case provider.Hash:
		return embedding.NewHash(e.Dimensions), nil
	case provider.Static:
		return static.Load(e.ModelPath)
	case provider.OpenAI:
		oc.Provider = provider.OpenAI
		raw, err := openaicompat.NewEmbedder(oc)
		if err != nil {
			return nil, err
		}
		// Longer inputs are embedded in chunks whose vectors are averaged.
		return embedding.Chunked(raw, openAIMaxInputChars), nil
	case provider.Jina:
		return jina.NewEmbedder(jina.Config{Config: oc})
	case provider.Voyage:
		return voyage.NewEmbedder(voyage.Config{Config: oc})
	case provider.Ollama:
		return ollama.NewEmbedder(ollama.Config{Config: oc})
	case provider.Gemini:
		return gemini.NewEmbedder(gemini.Config{Config: oc})
	}
	return nil, fmt.Errorf("embedding provider %q is unknown: use %s", e.Provider, provider.List(provider.Embedders()))
}

func newLLM(l config.LLM) (llm.Client, error) {
	return openaicompat.NewChat(openaicompat.Config{
		Provider: "llm", BaseURL: l.BaseURL, APIKey: l.APIKey, Model: l.Model, Timeout: l.Timeout.Duration, KeyName: "TROVE_LLM_API_KEY",
	})
}

// newSearcher builds recall over st; query embeds queries (cached).
func newSearcher(st store.Store, query embedding.Embedder, cfg config.Config) (*retrieve.Retriever, error) {
	ss, ok := st.(store.Searcher)
	if !ok {
		return nil, fmt.Errorf("this store cannot search")
	}
	var rr retrieve.Reranker
	if cfg.Rerank.Provider != "" {
		var err error
		if rr, err = newReranker(cfg.Rerank); err != nil {
			return nil, err
		}
	}
	lc := cfg.Lifecycle.Engine()
	opts := retrieve.Options{VectorK: cfg.Retrieval.VectorK, BM25K: cfg.Retrieval.BM25K,
		Fusion: retrieve.Fusion(cfg.Retrieval.Fusion), MinScore: cfg.Retrieval.MinScore,
		// 0: the retriever takes the floor for the model emb says it is.
		MinCosine:    cfg.Retrieval.MinCosine,
		VectorWeight: cfg.Retrieval.VectorWeight, BM25Weight: cfg.Retrieval.BM25Weight,
		Expansion: retrieve.Expansion{Enabled: cfg.Retrieval.Expansion.Enabled, Docs: cfg.Retrieval.Expansion.Docs,
			Terms: cfg.Retrieval.Expansion.Terms, OriginalWeight: cfg.Retrieval.Expansion.OriginalWeight},
		RerankTimeout: cfg.Rerank.Timeout.Duration, Lifecycle: &lc,
		IndexFileError: func(err error) {
			slog.New(slog.NewTextHandler(os.Stderr, nil)).Warn("could not write the vector index file; the next process reads every vector", "error", err.Error())
		}}
	return retrieve.New(ss, query, rr, opts), nil
}

func newReranker(r config.Rerank) (retrieve.Reranker, error) {
	rc := openaicompat.RerankConfig{BaseURL: r.BaseURL, APIKey: r.APIKey, Model: r.Model,
		Timeout: r.Timeout.Duration, KeyName: "TROVE_RERANK_API_KEY"}
	switch r.Provider {
	case provider.Jina:
		return jina.NewReranker(rc)
	case provider.SiliconFlow:
		return siliconflow.NewReranker(rc)
	case provider.Voyage:
		return voyage.NewReranker(rc)
	case provider.Pinecone:
		return pinecone.NewReranker(pinecone.Config{RerankConfig: rc})
	case provider.TEI:
		return tei.NewReranker(rc)
	}
	return nil, fmt.Errorf("rerank provider %q is unknown: use %s", r.Provider, provider.List(provider.Rerankers()))
}

// oneShotReads are commands that read a few rows and exit: their garbage
// is small and dies with the process, so collecting it early is wasted
// work (at 10k rows a cold `trove search` spent ~5 ms of its ~35 ms in the
// collector). Long-running and bulk commands keep Go's default.
var oneShotReads = map[string]bool{"search": true, "recall-context": true, "get": true, "list": true, "facts": true, "stats": true, "history": true}

// oneShotGC lets the heap grow four times between collections (GOGC=400)
// for a one-shot read, unless GOGC is set.
func oneShotGC(command string) {
	if oneShotReads[strings.TrimPrefix(command, "trove ")] && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
