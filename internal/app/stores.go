package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo"
	"github.com/ohfp/ohfp/internal/store/sqlite"
)

// storeKind is what ohfp does with one kind of state store: open it, set
// it up (store init), and name it in messages.
type storeKind struct {
	open  func(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error)
	setUp func(ctx context.Context, cfg *config.Config, log *slog.Logger, create bool, w io.Writer) error
	name  func(cfg *config.Config) string
}

// storeKinds is the one place that tells the kinds of state store apart.
var storeKinds = map[config.StorageType]storeKind{
	config.StorageSQLite:   {open: openSQLite, setUp: setUpSQLite, name: func(cfg *config.Config) string { return "SQLite store " + cfg.Storage.Path }},
	config.StorageDynamoDB: {open: openDynamo, setUp: setUpDynamo, name: dynamoName},
}

func kindOf(cfg *config.Config) (storeKind, error) {
	k, ok := storeKinds[cfg.Storage.Type]
	if !ok {
		return storeKind{}, fault.New(fault.Configuration, "%s: storage type %q is not sqlite or dynamodb", cfg.ConfigFile, cfg.Storage.Type)
	}
	return k, nil
}

// OpenStore opens the store the configuration selects.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	k, err := kindOf(cfg)
	if err != nil {
		return nil, err
	}
	return k.open(ctx, cfg, log)
}

// InitStore sets up the store the configuration selects, or with create
// false only checks it, and writes what it found and did to w.
func InitStore(ctx context.Context, cfg *config.Config, log *slog.Logger, create bool, w io.Writer) error {
	k, err := kindOf(cfg)
	if err != nil {
		return err
	}
	return k.setUp(ctx, cfg, log, create, w)
}

// StoreName says which store cfg selects, the same words for the same store.
func StoreName(cfg *config.Config) string {
	k, err := kindOf(cfg)
	if err != nil {
		return fmt.Sprintf("store of type %q", cfg.Storage.Type)
	}
	return k.name(cfg)
}

func openSQLite(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	path, err := SQLitePath(cfg)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "opening the state store %s", path)
	}
	if why := st.Unwritable(); why != nil {
		log.Error("the state store cannot be written (full disk?); it is read only: what only reads answers, and nothing is launched or terminated", "store", path, "err", why)
	}
	return st, nil
}

// setUpSQLite opens (or creates) the state file, setting aside one that is
// damaged or lost when create, and reports its schema and identity.
func setUpSQLite(ctx context.Context, cfg *config.Config, log *slog.Logger, create bool, w io.Writer) error {
	path, err := SQLitePath(cfg)
	if err != nil {
		return err
	}
	var st *sqlite.Store
	var aside []string
	if create {
		st, aside, err = sqlite.Init(ctx, path, time.Now())
	} else {
		st, err = sqlite.Open(ctx, path)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	for _, f := range aside {
		log.Warn("damaged state store set aside", "file", f, "store", path)
		fmt.Fprintf(w, "set aside the damaged or lost store's file as %s\n", f)
	}
	version, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	ident, err := store.Identify(ctx, st, "", time.Now())
	if err != nil {
		return fault.Wrap(fault.Internal, err, "state store %s", path)
	}
	fmt.Fprintf(w, "SQLite state store %s is ready (schema version %d, store %s created %s)\n",
		st.Path(), version, ident.ID, ident.Created.Format(time.RFC3339))
	if len(aside) > 0 {
		fmt.Fprintln(w, "Run `ohfp reconcile` now: it adopts and reports the hosts the lost store knew, before HostFactory asks for more.")
	}
	return nil
}

// SQLitePath is the SQLite store's file, unless it would only be a guess:
// then it refuses, naming what to set, rather than make an empty store in
// the conf folder beside a grid whose real store is elsewhere.
//
// A SQLite store serves one provider instance: the first to use it claims
// it (ownerSuffix), so that instances sharing a work folder, as the OHFP
// integration guide's multi-region scenario does, share no requests,
// machines or maxNumber use. A store from before claims goes to the first
// instance that opens it. Another instance gets ohfp-<name>.db beside the
// default file, or is refused the file the configuration names. cfg's
// Storage.Path is set to the file chosen, so messages name it.
func SQLitePath(cfg *config.Config) (string, error) {
	if cfg.Storage.Guessed {
		return "", fault.New(fault.Configuration,
			"no work folder for the state store: set HF_PROVIDER_WORKDIR (or HF_WORKDIR) as HostFactory does, or an absolute OHFP_SQLITE_PATH (storage.sqlite.path) in %s; ohfp does not make a store in the conf folder %s",
			cfg.ConfigFile, cfg.ConfDir).With("field", "HF_PROVIDER_WORKDIR")
	}
	path := cfg.Storage.Path
	owner, err := claim(path, cfg.ProviderName)
	switch {
	case err != nil:
		return "", err
	case owner == cfg.ProviderName:
		return path, nil
	case !cfg.Storage.Defaulted:
		return "", fault.New(fault.Configuration,
			"the state store %s serves provider instance %q (%s): give provider instance %q its own storage.sqlite.path (OHFP_SQLITE_PATH) in %s",
			path, owner, path+ownerSuffix, cfg.ProviderName, cfg.ConfigFile).With("field", "storage.sqlite.path")
	}
	own := filepath.Join(filepath.Dir(path), "ohfp-"+cfg.ProviderName+".db")
	if owner, err = claim(own, cfg.ProviderName); err != nil {
		return "", err
	}
	if owner != cfg.ProviderName {
		return "", fault.New(fault.Configuration, "the state store %s serves provider instance %q (%s), not %q",
			own, owner, own+ownerSuffix, cfg.ProviderName).With("field", "storage.sqlite.path")
	}
	cfg.Storage.Path = own
	return own, nil
}

// ownerSuffix names the file beside a SQLite store that holds the name of
// the provider instance it serves.
const ownerSuffix = ".provider"

// claim returns the provider instance the SQLite store at path serves,
// recording name as that instance when none is recorded yet. The record is
// written whole aside, then linked in place, which fails if it exists: of
// two instances claiming at once one wins, and no one reads half a record.
func claim(path, name string) (string, error) {
	file := path + ownerSuffix
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		if err = record(file, name); errors.Is(err, fs.ErrExist) {
			b, err = os.ReadFile(file)
		} else if err == nil {
			return name, nil
		}
	}
	if err != nil {
		return "", fault.Wrap(fault.Configuration, err, "which provider instance the state store %s serves (%s)", path, file)
	}
	owner := strings.TrimSpace(string(b))
	if owner == "" {
		return "", fault.New(fault.Configuration, "%s is empty: write in it the name of the provider instance the state store %s serves", file, path)
	}
	return owner, nil
}

// record writes name into file, unless file exists (fs.ErrExist).
func record(file, name string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(name + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Link(tmp.Name(), file)
	}
	return err
}

func openDynamo(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	o, err := DynamoOptions(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := dynamo.Open(ctx, o)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "opening the DynamoDB store %s", o.TablePrefix)
	}
	return st, nil
}

// setUpDynamo creates what is missing of the tables, or with create false
// lists it.
func setUpDynamo(ctx context.Context, cfg *config.Config, log *slog.Logger, create bool, w io.Writer) error {
	o, err := DynamoOptions(ctx, cfg, log)
	if err != nil {
		return err
	}
	report, err := dynamo.Init(ctx, o, create)
	for _, line := range report {
		fmt.Fprintln(w, line)
	}
	if err == nil {
		fmt.Fprintf(w, "ready: %s\n", dynamoName(cfg))
	}
	return err
}

func dynamoName(cfg *config.Config) string {
	d := cfg.Storage.DynamoDB
	name := fmt.Sprintf("DynamoDB tables %s-* in %s", d.TablePrefix, d.Region)
	if d.EndpointURL != "" {
		name += " at " + d.EndpointURL
	}
	return name
}

// DynamoOptions are the options of the DynamoDB store cfg configures: its
// tables, with the site's profile, credentials, proxy and retries, in the
// tables' region.
func DynamoOptions(ctx context.Context, cfg *config.Config, log *slog.Logger) (dynamo.Options, error) {
	d := cfg.Storage.DynamoDB
	site := cfg.AWS
	if d.Region != "" {
		site.Region = d.Region
	}
	awsCfg, err := awscloud.SDKConfig(ctx, site)
	if err != nil {
		return dynamo.Options{}, fault.Wrap(fault.Configuration, err, "the AWS configuration of the DynamoDB store %s", d.TablePrefix)
	}
	return dynamo.Options{
		TablePrefix: d.TablePrefix,
		EndpointURL: d.EndpointURL,
		Retention:   cfg.Storage.Retention,
		Logger:      log,
		AWSConfig:   &awsCfg,
		AutoCreate:  d.AutoCreate,
		Backup:      d.BackupEnabled,
		InitCommand: StoreInitCommand(cfg),
	}, nil
}

// StoreInitCommand is the command that sets up cfg's store, as an
// administrator would type it.
func StoreInitCommand(cfg *config.Config) string {
	return fmt.Sprintf("HF_PROVIDER_NAME=%s HF_PROVIDER_CONFDIR=%s ohfp store init", shellQuote(cfg.ProviderName), shellQuote(cfg.ConfDir))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
