"""The one door to consist: the only package of trackyard that imports ``consist``.

Everything trackyard needs from consist goes through the modules below; the rest of trackyard
sees consist objects only as opaque values (``Any`` or protocols). The public handle
``DomainTracker.consist`` returns the consist ``Tracker`` itself, for plugin authors' direct
consist calls. ``lint-imports`` (contract ``consist-door``) refuses an ``import consist``
anywhere else, and ``tests/core/test_consist_door.py`` refuses private consist attribute
chains outside this package. Importing this package imports nothing: consist (~1.6 s) is
loaded inside the functions that need it.

Modules
-------
* ``tracker``: build a consist ``Tracker`` on a workspace (schema marker, set-up lock, lock
  budget); consist's schema on an empty store; its version; its file digest without a tracker.
* ``run``: execute one ``DomainTracker.run`` call (``Engine``): the run-start stamp (a closure
  per call), ``Tracker.run`` with the wiring, cache-hit refusal and re-run, closing an
  interrupted run, the read-back after a swallowed DB write.
* ``active``: the run in progress (output paths, its folder, its metadata), inside a model.
* ``session``: batches of runs on one pooled connection, released connections, the cache-miss
  explainer (opt-in), the run snapshot flush, ``use_tracker``.
* ``writes``: a run's store writes after its model returned, in one transaction.
* ``identity``: the batch cache key (the many-run pre-check) and one content hash per file
  per call.
* ``schema``: every SQL text against consist's tables, every consist key read from run
  metadata or snapshots, the named row types.
* ``restore``: consist's rows rebuilt from its JSON run snapshots (``reconcile``, ``rebuild``,
  and ``import_runs``, all of a bundle's runs in one transaction).
* ``merge``: a sweep's shard stores merged into the main store.
* ``contents``: the store's artifact content rows of a run and its facet timestamps, kept in
  its snapshot (after the run, a shard merge, an import) so that a rebuild restores them
  exactly.
* ``logs``: consist's log lines routed through trackyard's logger ``trackyard.consist``.

consist internals trackyard relies on
-------------------------------------
Each is pinned by a test in ``tests/consist_contract`` (named in brackets), so an upgrade of
consist that changes one fails loudly. All were checked against consist 0.3.5; the dependency
is capped below 0.4 (``core/pyproject.toml``) until the contract tests pass on a newer release.

Private attributes and monkeypatches
  1. ``DatabaseManager._lock_retries``, ``._lock_base_sleep_seconds``,
     ``._lock_max_sleep_seconds`` (written; ``tracker.apply_lock_budget``): consist retries a
     locked DuckDB file for ~30 s with no public setting; trackyard bounds it by
     ``TRACKYARD_LOCK_TIMEOUT``. Its sleep is ``min(base * 1.5**i + U(0.05, 0.2), max)``.
     [test_lock_retry_fields]
  2. ``Tracker._flush_json()`` (called; ``session.flush_snapshot``): consist writes the run's
     JSON snapshot before calling run-start hooks, so the stamp (pid, host) trackyard adds
     there would reach the snapshot only at the run's end; reconcile needs it while the run is
     in flight. [test_flush_json_writes_the_snapshot]
  3. ``consist.core.tracker_lifecycle.CacheMissExplainer`` replaced process-wide by a subclass
     whose ``explain`` reads ``self._tracker`` (``session.explain_misses``): the explainer
     costs ~180 ms of queries per miss; trackyard skips it unless
     ``TRACKYARD_EXPLAIN_MISSES=1`` and runs ``consist.core.cache_miss_explainer
     .CacheMissExplainer(tracker).explain(run).as_dict()`` on demand. A miss records it as
     the run meta key ``cache_miss_explanation``; a serial batch's configs the store has
     never recorded run with ``cache_mode="overwrite"`` (no lookup, no explanation) and
     trackyard writes the same unexplained record (``session.known_misses``).
     [test_cache_miss_explainer]
  4. ``tracker.metadata_store.db.engine`` swapped for a ``QueuePool(pool_size=1)`` engine on
     the same URL for a batch, and back (``session.batch``): consist's ``NullPool`` opens a
     DuckDB connection (~29 ms) per operation. [test_database_engine_swap] The batch's engine
     caches compiled statements (``dialect._supports_statement_cache = True`` on that engine's
     dialect only): duckdb_engine's ``Dialect`` sets ``supports_statement_cache = False`` only
     to silence SQLAlchemy's warning (duckdb_engine PR #268) and compiles with PostgreSQL's
     ``PGCompiler``, whose dialect caches. [test_batch_engine_caches_compiled_statements]
  5. ``tracker.identity.compute_file_checksum`` replaced on the instance for one call, and the
     class method called for directories and non-``full`` strategies
     (``identity.one_hash_per_file``; ``identity.hashing_strategy`` read): consist hashes an
     input three times per run. [test_file_checksum_is_sha256]
  6. ``DatabaseManager(path, skip_schema_init=True)`` subclassed for consist's merge, and
     ``consist.core.maintenance.DatabaseMaintenance(db=, run_dir=).merge(shard,
     conflict="skip", include_snapshots=False)`` (``merge.Merger``, shards whose tables differ).
     [test_consist_merge_skips_existing_runs]
  7. ``consist.core.persistence.DatabaseManager(path)`` creates the schema on an empty file;
     ``consist.core.identity.IdentityManager(project_root=).compute_file_checksum`` digests a
     file without a tracker (``tracker.create_schema``, ``tracker.file_checksum``).
     [test_schema_creation, test_file_checksum_is_sha256]
  8. ``tracker.current_consist`` (``.run``, ``.cached_run``, ``.outputs``) and
     ``Tracker.end_run(status=, error=)`` (``run.Engine``): the hit's reused run in memory at
     run start, and closing a run an interrupt left open. [test_cached_run_at_run_start,
     test_end_run_closes_an_interrupted_run]

Behaviour re-implemented (must stay equal to consist's)
  9. The cache key (``identity.config_hash``): ``IdentityManager.compute_hash_inputs_digests``,
     ``normalize_json``, ``compute_run_config_hash(config=, model=, year=, iteration=,
     cache_epoch=, cache_version=)``, with the identity inputs' digests under the config key
     ``__consist_hash_inputs__``; ``resolve_code_identity(mode=, func=).digest`` (the
     ``git_hash`` column) and ``compute_input_hash([])`` (``input_hash`` of a run without
     inputs). [test_batch_cache_key_equals_recorded_config_hash]
 10. consist's ORM rows rebuilt and written with DELETE/INSERT (``restore``): the SQLModel
     classes ``consist.models.run.Run``, ``RunArtifactLink``, ``consist.models.artifact
     .Artifact``, ``ArtifactContent``, ``consist.models.config_facet.ConfigFacet``,
     ``consist.models.run_config_kv.RunConfigKV`` (``__tablename__``, SQLAlchemy column
     attributes, pydantic ``model_fields`` defaults; SQLAlchemy ``UUIDType`` and pydantic
     ``PydanticUndefinedType`` matched by name); ``consist.core.facet_common
     .flatten_facet_values``; no ``run_config_kv`` rows above 500 facet keys.
     [test_restore_rebuilds_the_rows_consist_wrote] The other way (``snapshot.recreate``): a
     run's snapshot re-created from its rows with ``consist.models.run.ConsistRecord`` (``run``,
     ``inputs``, ``outputs``) and ``model_dump_json``, as consist's provenance writer writes it.
     [test_recreated_snapshot_matches_the_one_consist_wrote]
 11. DB write failures: consist 0.3.5 swallows them (a warning, no exception, no return
     value); ``run.WriteFailureWatch`` spots warnings whose log record's source file is
     ``consist/.../persistence.py`` or ``db_runtime.py``; the run's row is then read back.
     consist logs with the ``logging`` module's functions (root logger, ``basicConfig`` on
     first use): ``logs.route`` sets each loaded consist module's ``logging`` name to a
     stand-in that sends them to ``trackyard.consist``, the records keeping consist's file.
     [test_swallowed_write_failure_is_logged_from_persistence]

Data layout
 12. JSON snapshots at ``<run_dir>/consist_runs/<run id>.json`` with the keys ``run``,
     ``inputs``, ``outputs``, ``facet``, ``config`` (restore, reconcile, reports; run meta keys
     ``config_facet_id``, ``config_facet_namespace``, ``config_facet_schema``,
     ``config_facet_schema_version``). [test_snapshot_layout]
 13. Tables and columns spelled in SQL (``schema``): ``run``, ``artifact``,
     ``run_artifact_link`` and the columns listed there; the meta keys ``cache_source``,
     ``error``, ``_physical_run_dir`` (rewritten by ``import_runs`` to the importing
     workspace's run folder, where consist then resolves the run's outputs); config keys
     starting ``__consist``; every run, hits included, writes a new row.
     [test_tables_and_columns, test_meta_keys]
 14. ``Tracker(run_dir=, db_path=, run_subdir_fn=, db_skip_schema_init=)``,
     ``Tracker.run(...)`` keywords and ``RunResult`` (``run``, ``outputs``, ``cache_hit``,
     ``output_path``), ``CacheOptions(cache_mode=, cache_epoch=, code_identity=)``,
     ``ExecutionOptions(runtime_kwargs=, input_binding=)``, ``on_run_start`` hooks,
     ``Tracker.get_run`` / ``resolve_uri``, and ``consist.__version__`` (the schema marker).
     Public API, covered by every run test. A store consist has set up holds no row and the
     same structure whatever its path, for one set of library versions (``store_template``
     copies one into every new workspace). [tests/store/test_store_template.py]
 15. Content rows and facet timestamps (``contents``; ``config_facet.created_at`` and
     ``run_config_kv.created_at`` by ``id`` and ``run_id``, read with the SQL of ``schema``
     like every other column): ``artifact_content`` has the columns ``id``,
     ``content_hash``, ``driver``, ``created_at``, ``meta``, one row per hash and driver
     shared by every artifact with those bytes, of which a snapshot names only the ``id``
     (``content_id``); consist's last write of a run's snapshot happens before
     ``Tracker.run`` returns (or raises), so the rows trackyard adds then under the
     snapshot's top-level key ``trackyard`` stay; ``ConsistRecord`` reads a snapshot carrying
     that key; read on the batch's engine with ``engine.raw_connection()``. A merge (both
     paths) keeps the main store's content row for bytes it already had, so the shard runs'
     snapshots are corrected to it (``contents.merged``).
     [test_snapshot_keeps_the_stores_content_rows, test_consist_merge_skips_existing_runs]

Private attributes (continued)
 16. ``DatabaseManager._session_ctx`` (a ``ContextVar`` its ``session_scope`` reuses) set to a
     session joined to an open transaction with ``join_transaction_mode="rollback_only"``
     (consist's ``session.commit()`` then leaves it open), and
     ``DatabaseManager._artifact_content_cache`` (with ``_artifact_content_cache_lock``)
     cleared when that transaction is lost (``writes.grouped``): a run's end writes are one
     commit instead of three. [test_run_end_writes_share_one_transaction]
 17. ``Tracker.persistence._write_record_json(record)`` (consist's ``ProvenanceWriter``)
     replaced on the instance (``writes.install_writer``): every snapshot consist writes
     passes through it (the run's start and outputs while ``running``, then its end), and it
     writes ``record.model_dump_json(indent=2)`` to the run's snapshot and ``consist.json``;
     inside a trackyard run the latest-run file is written with the run's end only, a
     ``running`` snapshot after the model is superseded by the end's before the commit, and
     the end's snapshot carries the content rows (``contents.kept``).
     [test_snapshot_writes_go_through_the_instance_writer]
"""
