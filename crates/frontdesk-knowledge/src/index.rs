//! The knowledge index: one tantivy index in a directory for all sites, plus the chunks' vectors.
//!
//! - Documents are chunks (see [`crate::chunk`]); each carries its site id (a raw `STRING` field every
//!   query filters on), its article id, and its text analyzed into the field of its locale
//!   (`body_en`, `body_nl`, …: lower-casing, stop words, the Snowball stemmer of that language).
//! - The chunk's vector, with the id of the embedder that made it, is stored in the same document
//!   (a stored bytes field), so vectors commit atomically with the text, survive a restart and are
//!   recomputed only when the embedder changes or on [`KnowledgeIndex::rebuild`].
//! - At open, every stored chunk is loaded into memory per site: the records that make passages and
//!   one contiguous `f32` matrix of the site's vectors for brute-force cosine search.
//!
//! Blocking: every method does disk I/O or CPU work (and `upsert_article`, `rebuild` and `search`
//! call the embedder when there is one). From async code call them through
//! `tokio::task::spawn_blocking`. The index is `Send + Sync`; writes are serialized, searches run
//! concurrently with them and see a change as soon as the writing call returns.

use crate::chunk::{Chunk, chunk_article, embedding_views, indexed_text};
use crate::embed::{Embedder, dot};
use crate::fusion::Ranking;
use crate::{KnowledgeError, Result};
use frontdesk_core::ids::SiteId;
use frontdesk_core::knowledge::{Article, ArticleId, ArticleStatus, Passage, Retrieval};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenStream,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// The languages with their own analyzer; any other locale is analyzed as English.
pub const LANGUAGES: &[(&str, Language)] = &[
    ("en", Language::English),
    ("nl", Language::Dutch),
    ("de", Language::German),
    ("fr", Language::French),
    ("es", Language::Spanish),
    ("it", Language::Italian),
    ("pt", Language::Portuguese),
    ("sv", Language::Swedish),
    ("da", Language::Danish),
    ("no", Language::Norwegian),
    ("fi", Language::Finnish),
];

/// The analyzer language code for a locale (`nl-BE` → `nl`, `nb` → `no`, unknown → `en`).
pub fn language_of(locale: &str) -> &'static str {
    let primary = locale.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    let primary = if primary == "nb" || primary == "nn" { "no".to_string() } else { primary };
    LANGUAGES.iter().find(|(code, _)| *code == primary).map(|(code, _)| *code).unwrap_or("en")
}

fn analyzer(language: Language) -> TextAnalyzer {
    let stop = StopWordFilter::new(language).unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new()));
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(Stemmer::new(language))
        .filter(AsciiFoldingFilter)
        .build()
}

/// How many candidates each ranker contributes before fusion.
const CANDIDATES: usize = 50;

/// Options of one search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// How many passages to return.
    pub k: usize,
    pub ranking: Ranking,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { k: 5, ranking: Ranking::default() }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    key: Field,
    article_id: Field,
    site_id: Field,
    ordinal: Field,
    title: Field,
    heading: Field,
    text: Field,
    url: Field,
    locale: Field,
    embedder: Field,
    vector: Field,
}

fn schema() -> (Schema, Fields, HashMap<&'static str, Field>) {
    let mut b = Schema::builder();
    let fields = Fields {
        chunk_id: b.add_text_field("chunk_id", STRING | STORED),
        key: b.add_u64_field("key", FAST | STORED),
        article_id: b.add_text_field("article_id", STRING | STORED),
        site_id: b.add_text_field("site_id", STRING | STORED),
        ordinal: b.add_u64_field("ordinal", STORED),
        title: b.add_text_field("title", STORED),
        heading: b.add_text_field("heading", STORED),
        text: b.add_text_field("text", STORED),
        url: b.add_text_field("url", STORED),
        locale: b.add_text_field("locale", STORED),
        embedder: b.add_text_field("embedder", STORED),
        vector: b.add_bytes_field("vector", STORED),
    };
    let mut bodies = HashMap::new();
    for (code, _) in LANGUAGES {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(&format!("fd_{code}"))
            .set_index_option(IndexRecordOption::WithFreqs);
        let field = b.add_text_field(&format!("body_{code}"), TextOptions::default().set_indexing_options(indexing));
        bodies.insert(*code, field);
    }
    (b.build(), fields, bodies)
}

/// A stable 64-bit key of a chunk id (FNV-1a), the fast field BM25 hits are resolved through.
fn chunk_key(chunk_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in chunk_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One chunk as it is kept in memory.
#[derive(Debug)]
struct ChunkRecord {
    key: u64,
    chunk_id: String,
    article_id: ArticleId,
    title: String,
    heading: String,
    text: String,
    url: Option<String>,
    locale: String,
}

/// A site's chunks and their vectors. A chunk has one or more vectors (see
/// [`crate::chunk::embedding_views`]), the whole chunk's first: row `r` of `vectors` belongs to
/// `chunks[row_chunk[r]]`, and a chunk's rows are contiguous and in order.
#[derive(Default)]
struct SiteData {
    chunks: Vec<Arc<ChunkRecord>>,
    vectors: Vec<f32>,
    row_chunk: Vec<u32>,
    /// Chunks that have no vector (indexed without an embedder).
    vectorless: usize,
    by_key: HashMap<u64, usize>,
    /// Chunk count per analyzer language, to know which fields a query must search.
    languages: HashMap<&'static str, usize>,
    /// What the centered cosine needs of the vectors (see [`Centering`]), computed by the first
    /// search after a change; every change of the vectors empties it.
    centering: OnceLock<Centering>,
}

/// How much of the site's mean vector is taken out of every vector before the ranking's cosine
/// (see [`Centering`]). Tuned on the evaluation's tuning halves (`docs/benchmarks.md`): anything from
/// 0.6 to 0.9 gained on both FAQ sets; below 1 the mean is never the whole of a vector, so no
/// centered vector is zero, even on a site of one chunk.
pub const CENTERING: f32 = 0.7;

/// The site's mean vector and, per row, what the centered cosine needs of it.
///
/// A sentence model's vectors share a large common direction: every text is somewhat similar to
/// every other, and a generic passage, close to the mean, is near many questions (a "hub") that a
/// more specific passage answers better. Ranking by the cosine of the vectors minus
/// `CENTERING ×` the site's mean vector discounts what all the site's passages have in common:
/// `cos(q − m, d − m) = (q·d − q·m − d·m + m·m) / (|q − m| |d − m|)`, with `d·m` and `|d − m|`
/// kept per row, so a search still costs one dot product per row. Confidence keeps the plain
/// cosine: the threshold was calibrated on it.
struct Centering {
    mean: Vec<f32>,
    mean_sq: f32,
    row_dot_mean: Vec<f32>,
    row_inv_norm: Vec<f32>,
}

impl Centering {
    fn of(vectors: &[f32], row_chunk: &[u32], dim: usize) -> Centering {
        // The mean of the chunks' whole-text vectors (each chunk's first row): a chunk with a lead
        // view must not weigh twice.
        let mut mean = vec![0.0f32; dim];
        let mut count = 0usize;
        let mut previous = u32::MAX;
        for (row, &owner) in vectors.chunks_exact(dim).zip(row_chunk) {
            if owner != previous {
                previous = owner;
                count += 1;
                for (m, x) in mean.iter_mut().zip(row) {
                    *m += x;
                }
            }
        }
        let scale = if count == 0 { 0.0 } else { CENTERING / count as f32 };
        for m in &mut mean {
            *m *= scale;
        }
        let mean_sq = dot(&mean, &mean);
        let mut row_dot_mean = Vec::with_capacity(row_chunk.len());
        let mut row_inv_norm = Vec::with_capacity(row_chunk.len());
        for row in vectors.chunks_exact(dim) {
            let dm = dot(row, &mean);
            row_dot_mean.push(dm);
            row_inv_norm.push(inverse_norm(dot(row, row) - 2.0 * dm + mean_sq));
        }
        Centering { mean, mean_sq, row_dot_mean, row_inv_norm }
    }
}

/// `1 / sqrt(squared_norm)`, 0 for a vector of (about) no length.
fn inverse_norm(squared_norm: f32) -> f32 {
    if squared_norm > 1e-12 { 1.0 / squared_norm.sqrt() } else { 0.0 }
}

/// A candidate passage while a search ranks it.
struct Scored {
    chunk: usize,
    /// Ranked before the others: in the hybrid's semantic shortlist (every candidate when it is
    /// unbounded; none under the other rankings, which sort by score alone).
    shortlisted: bool,
    score: f32,
    lexical: Option<f32>,
    /// The plain (not centered) cosine.
    plain: Option<f32>,
}

/// A chunk's semantic scores: the plain cosine (for confidence) and the centered one (for ranking).
struct SemanticScores {
    plain: Vec<f32>,
    centered: Vec<f32>,
}

impl SiteData {
    /// Add a chunk with its vectors (`dim` floats each, concatenated), replacing a chunk of the same id.
    fn push(&mut self, record: ChunkRecord, vectors: Option<&[f32]>, dim: usize) {
        self.centering = OnceLock::new();
        if self.by_key.contains_key(&record.key) {
            let key = record.key;
            self.retain(|c| c.key != key, dim);
        }
        *self.languages.entry(language_of(&record.locale)).or_default() += 1;
        let i = self.chunks.len();
        self.by_key.insert(record.key, i);
        self.chunks.push(Arc::new(record));
        match vectors {
            Some(v) if dim > 0 && !v.is_empty() && v.len() % dim == 0 => {
                self.vectors.extend_from_slice(v);
                self.row_chunk.extend(std::iter::repeat_n(i as u32, v.len() / dim));
            }
            _ => self.vectorless += 1,
        }
    }

    /// Keep the chunks `keep` accepts (in order) with their vectors.
    fn retain(&mut self, keep: impl Fn(&ChunkRecord) -> bool, dim: usize) {
        self.centering = OnceLock::new();
        let old = std::mem::take(&mut self.chunks);
        let mut new_index = vec![u32::MAX; old.len()];
        self.by_key.clear();
        self.languages.clear();
        for (i, c) in old.into_iter().enumerate() {
            if keep(&c) {
                new_index[i] = self.chunks.len() as u32;
                self.by_key.insert(c.key, self.chunks.len());
                *self.languages.entry(language_of(&c.locale)).or_default() += 1;
                self.chunks.push(c);
            }
        }
        let mut write = 0;
        let mut has_rows = vec![false; self.chunks.len()];
        for read in 0..self.row_chunk.len() {
            let owner = new_index.get(self.row_chunk[read] as usize).copied().unwrap_or(u32::MAX);
            if owner == u32::MAX {
                continue;
            }
            if dim > 0 && read != write {
                self.vectors.copy_within(read * dim..(read + 1) * dim, write * dim);
            }
            self.row_chunk[write] = owner;
            has_rows[owner as usize] = true;
            write += 1;
        }
        self.row_chunk.truncate(write);
        self.vectors.truncate(write * dim);
        self.vectorless = has_rows.iter().filter(|h| !**h).count();
    }

    /// Every chunk's semantic scores for the query vector `q` (unit length, as the embedder makes
    /// it): the mean of its first vector's cosine (the whole chunk) and its best vector's cosine (see
    /// [`crate::chunk::embedding_views`]), once plain and once centered (see [`Centering`]).
    fn semantic_scores(&self, q: &[f32], dim: usize) -> SemanticScores {
        let centering = self.centering.get_or_init(|| Centering::of(&self.vectors, &self.row_chunk, dim));
        let q_dot_mean = dot(q, &centering.mean);
        let q_inv_norm = inverse_norm(dot(q, q) - 2.0 * q_dot_mean + centering.mean_sq);
        let n = self.chunks.len();
        let (mut first, mut best) = (vec![f32::NAN; n], vec![f32::NEG_INFINITY; n]);
        let (mut first_c, mut best_c) = (vec![f32::NAN; n], vec![f32::NEG_INFINITY; n]);
        let per_row = centering.row_dot_mean.iter().zip(&centering.row_inv_norm);
        for ((row, &owner), (&row_dot_mean, &row_inv_norm)) in
            self.vectors.chunks_exact(dim).zip(&self.row_chunk).zip(per_row)
        {
            let i = owner as usize;
            if i >= n {
                continue;
            }
            let cos = dot(row, q);
            let centered = (cos - q_dot_mean - row_dot_mean + centering.mean_sq) * q_inv_norm * row_inv_norm;
            if first[i].is_nan() {
                first[i] = cos;
                first_c[i] = centered;
            }
            best[i] = best[i].max(cos);
            best_c[i] = best_c[i].max(centered);
        }
        let mix = |first: &[f32], best: &[f32]| -> Vec<f32> {
            first.iter().zip(best).map(|(&f, &b)| if f.is_nan() { 0.0 } else { 0.5 * (f + b) }).collect()
        };
        SemanticScores { plain: mix(&first, &best), centered: mix(&first_c, &best_c) }
    }

    fn remove_article(&mut self, article_id: ArticleId, dim: usize) {
        if self.chunks.iter().any(|c| c.article_id == article_id) {
            self.retain(|c| c.article_id != article_id, dim);
        }
    }
}

#[derive(Default)]
struct State {
    sites: HashMap<String, SiteData>,
    /// Which site holds each indexed article.
    article_site: HashMap<ArticleId, String>,
}

/// The per-site knowledge index. See the module documentation.
pub struct KnowledgeIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    bodies: HashMap<&'static str, Field>,
    analyzers: HashMap<&'static str, TextAnalyzer>,
    embedder: Option<Arc<dyn Embedder>>,
    state: RwLock<State>,
}

/// Stored with the vectors next to the embedder's id: how a chunk is turned into the texts that are
/// embedded. A change here re-embeds stored chunks at the next open.
const VIEWS_VERSION: &str = "views-plain-lead48";

fn stored_embedder_id(embedder: &dyn Embedder) -> String {
    format!("{} {VIEWS_VERSION}", embedder.id())
}

fn poisoned<T>(_: T) -> KnowledgeError {
    KnowledgeError::Poisoned
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// A chunk ready to be written: its record, site and vector.
struct Prepared {
    site: String,
    ordinal: usize,
    record: ChunkRecord,
    vector: Option<Vec<f32>>,
}

impl KnowledgeIndex {
    /// Open (or create) the index in `dir`. Loads every stored chunk into memory; when an embedder is
    /// given, chunks whose stored vector was made by another embedder (or has none) are embedded now
    /// and written back, which can take a while the first time. Blocking.
    pub fn open(dir: impl AsRef<Path>, embedder: Option<Arc<dyn Embedder>>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let (schema, fields, bodies) = schema();
        let directory = MmapDirectory::open(&dir).map_err(|e| KnowledgeError::Index(e.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        let mut analyzers = HashMap::new();
        for (code, language) in LANGUAGES {
            index.tokenizers().register(&format!("fd_{code}"), analyzer(*language));
            analyzers.insert(*code, analyzer(*language));
        }
        let writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let this = Self {
            dir,
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            bodies,
            analyzers,
            embedder,
            state: RwLock::new(State::default()),
        };
        this.load()?;
        Ok(this)
    }

    /// The directory the index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The embedder, when semantic retrieval is on.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    fn dim(&self) -> usize {
        self.embedder.as_ref().map(|e| e.dim()).unwrap_or(0)
    }

    /// Read every stored chunk into memory, re-embedding the ones whose vector is stale.
    fn load(&self) -> Result<()> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut stale: Vec<Prepared> = Vec::new();
        let mut fresh: Vec<Prepared> = Vec::new();
        let embedder_id = self.embedder.as_deref().map(stored_embedder_id);
        let dim = self.dim();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(4)?;
            for doc in store.iter::<TantivyDocument>(segment.alive_bitset()) {
                let doc = doc?;
                let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                let chunk_id = text(f.chunk_id);
                let Ok(article_id) = text(f.article_id).parse::<ArticleId>() else {
                    tracing::warn!(chunk_id, "skipping a chunk with an invalid article id");
                    continue;
                };
                let url = text(f.url);
                let record = ChunkRecord {
                    key: chunk_key(&chunk_id),
                    article_id,
                    title: text(f.title),
                    heading: text(f.heading),
                    text: text(f.text),
                    url: (!url.is_empty()).then_some(url),
                    locale: text(f.locale),
                    chunk_id,
                };
                let ordinal = doc.get_first(f.ordinal).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
                let site = text(f.site_id);
                let vector = match &embedder_id {
                    Some(id) if text(f.embedder) == *id => doc
                        .get_first(f.vector)
                        .and_then(|v| v.as_bytes())
                        .map(vector_from_bytes)
                        .filter(|v| !v.is_empty() && v.len() % dim == 0),
                    _ => None,
                };
                let prepared = Prepared { site, ordinal, record, vector };
                if embedder_id.is_some() && prepared.vector.is_none() {
                    stale.push(prepared);
                } else {
                    fresh.push(prepared);
                }
            }
        }
        if !stale.is_empty() {
            tracing::info!(chunks = stale.len(), "embedding chunks whose vectors are missing or stale");
            self.embed_prepared(&mut stale)?;
            let mut writer = self.writer.lock().map_err(poisoned)?;
            for p in &stale {
                writer.delete_term(Term::from_field_text(f.chunk_id, &p.record.chunk_id));
                writer.add_document(self.document(p))?;
            }
            writer.commit()?;
            self.reader.reload()?;
        }
        let mut state = self.state.write().map_err(poisoned)?;
        *state = State::default();
        for p in fresh.into_iter().chain(stale) {
            state.article_site.insert(p.record.article_id, p.site.clone());
            state.sites.entry(p.site).or_default().push(p.record, p.vector.as_deref(), dim);
        }
        Ok(())
    }

    fn prepare(&self, article: &Article, chunks: Vec<Chunk>) -> Vec<Prepared> {
        chunks
            .into_iter()
            .map(|c| Prepared {
                site: article.site_id.to_string(),
                ordinal: c.ordinal,
                record: ChunkRecord {
                    key: chunk_key(&c.id),
                    chunk_id: c.id,
                    article_id: article.id,
                    title: c.title,
                    heading: c.heading,
                    text: c.text,
                    url: article.url.clone(),
                    locale: article.locale.clone(),
                },
                vector: None,
            })
            .collect()
    }

    fn embed_prepared(&self, prepared: &mut [Prepared]) -> Result<()> {
        let Some(embedder) = &self.embedder else {
            return Ok(());
        };
        // Every chunk's views, flattened: (chunk position, text).
        let views: Vec<(usize, String)> = prepared
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                embedding_views(&p.record.title, &p.record.heading, &p.record.text).into_iter().map(move |t| (i, t))
            })
            .collect();
        let refs: Vec<&str> = views.iter().map(|(_, t)| t.as_str()).collect();
        let mut vectors = Vec::with_capacity(refs.len());
        for batch in refs.chunks(256) {
            vectors.extend(embedder.embed(batch)?);
        }
        if vectors.len() != views.len() {
            return Err(KnowledgeError::Embedding(format!(
                "the embedder returned {} vectors for {} texts",
                vectors.len(),
                views.len()
            )));
        }
        for p in prepared.iter_mut() {
            p.vector = None;
        }
        for ((i, _), v) in views.iter().zip(vectors) {
            if v.len() != embedder.dim() {
                return Err(KnowledgeError::Embedding(format!(
                    "the embedder returned {} floats, expected {}",
                    v.len(),
                    embedder.dim()
                )));
            }
            prepared[*i].vector.get_or_insert_with(Vec::new).extend_from_slice(&v);
        }
        Ok(())
    }

    fn document(&self, p: &Prepared) -> TantivyDocument {
        let f = self.fields;
        let r = &p.record;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.chunk_id, &r.chunk_id);
        doc.add_u64(f.key, r.key);
        doc.add_text(f.article_id, r.article_id.to_string());
        doc.add_text(f.site_id, &p.site);
        doc.add_u64(f.ordinal, p.ordinal as u64);
        doc.add_text(f.title, &r.title);
        doc.add_text(f.heading, &r.heading);
        doc.add_text(f.text, &r.text);
        if let Some(url) = &r.url {
            doc.add_text(f.url, url);
        }
        doc.add_text(f.locale, &r.locale);
        if let Some(body) = self.bodies.get(language_of(&r.locale)) {
            doc.add_text(*body, indexed_text(&r.title, &r.heading, &r.text));
        }
        if let (Some(embedder), Some(v)) = (&self.embedder, &p.vector) {
            doc.add_text(f.embedder, stored_embedder_id(embedder.as_ref()));
            doc.add_bytes(f.vector, &vector_bytes(v));
        }
        doc
    }

    fn site_article_query(&self, site: &str, article_id: ArticleId) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.site_id, site)),
            (Occur::Must, self.term_query(self.fields.article_id, &article_id.to_string())),
        ]))
    }

    fn term_query(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
    }

    /// Index a published article (replacing its previous chunks), or remove a draft. Visible to
    /// searches when this returns. Blocking (embeds the chunks when there is an embedder).
    pub fn upsert_article(&self, article: &Article) -> Result<()> {
        if article.status != ArticleStatus::Published {
            return self.remove_article(&article.site_id, article.id);
        }
        let mut prepared = self.prepare(article, chunk_article(article));
        self.embed_prepared(&mut prepared)?;
        let dim = self.dim();
        let mut writer = self.writer.lock().map_err(poisoned)?;
        // The article may have lived in another site before: remove it wherever it is.
        writer.delete_term(Term::from_field_text(self.fields.article_id, &article.id.to_string()));
        for p in &prepared {
            writer.add_document(self.document(p))?;
        }
        writer.commit()?;
        self.reader.reload()?;
        let mut state = self.state.write().map_err(poisoned)?;
        if let Some(old_site) = state.article_site.remove(&article.id)
            && let Some(site) = state.sites.get_mut(&old_site)
        {
            site.remove_article(article.id, dim);
        }
        let site_key = article.site_id.to_string();
        if !prepared.is_empty() {
            state.article_site.insert(article.id, site_key.clone());
        }
        let site = state.sites.entry(site_key).or_default();
        for p in prepared {
            site.push(p.record, p.vector.as_deref(), dim);
        }
        Ok(())
    }

    /// Remove an article of a site (unpublished or deleted). An article of another site is left
    /// alone. Visible to searches when this returns. Blocking.
    pub fn remove_article(&self, site_id: &SiteId, article_id: ArticleId) -> Result<()> {
        let site_key = site_id.to_string();
        let dim = self.dim();
        let mut writer = self.writer.lock().map_err(poisoned)?;
        writer.delete_query(self.site_article_query(&site_key, article_id))?;
        writer.commit()?;
        self.reader.reload()?;
        let mut state = self.state.write().map_err(poisoned)?;
        if state.article_site.get(&article_id) == Some(&site_key) {
            state.article_site.remove(&article_id);
        }
        if let Some(site) = state.sites.get_mut(&site_key) {
            site.remove_article(article_id, dim);
        }
        Ok(())
    }

    /// Replace the index of one site (`Some`) or of every site (`None`) with `articles` (drafts and,
    /// for one site, other sites' articles are skipped). Vectors are recomputed. One commit: searches
    /// see the old index until this returns. Blocking.
    pub fn rebuild(&self, site_id: Option<&SiteId>, articles: &[Article]) -> Result<()> {
        let site_key = site_id.map(ToString::to_string);
        let mut prepared = Vec::new();
        for article in articles {
            if article.status != ArticleStatus::Published
                || site_key.as_ref().is_some_and(|s| *s != article.site_id.to_string())
            {
                continue;
            }
            prepared.extend(self.prepare(article, chunk_article(article)));
        }
        self.embed_prepared(&mut prepared)?;
        let dim = self.dim();
        let mut writer = self.writer.lock().map_err(poisoned)?;
        match &site_key {
            Some(site) => {
                writer.delete_term(Term::from_field_text(self.fields.site_id, site));
            }
            None => {
                writer.delete_all_documents()?;
            }
        }
        for p in &prepared {
            writer.add_document(self.document(p))?;
        }
        writer.commit()?;
        self.reader.reload()?;
        let mut state = self.state.write().map_err(poisoned)?;
        match &site_key {
            Some(site) => {
                state.sites.remove(site);
                state.article_site.retain(|_, s| s != site);
            }
            None => *state = State::default(),
        }
        for p in prepared {
            state.article_site.insert(p.record.article_id, p.site.clone());
            let site = state.sites.entry(p.site).or_default();
            site.push(p.record, p.vector.as_deref(), dim);
        }
        Ok(())
    }

    /// How many chunks a site has indexed.
    pub fn chunk_count(&self, site_id: &SiteId) -> usize {
        self.state.read().ok().and_then(|s| s.sites.get(&site_id.to_string()).map(|d| d.chunks.len())).unwrap_or(0)
    }

    /// Embed a query with the index's embedder (`None` without one). Blocking.
    pub fn embed_query(&self, query: &str) -> Result<Option<Vec<f32>>> {
        match &self.embedder {
            Some(e) => Ok(e.embed(&[query])?.into_iter().next()),
            None => Ok(None),
        }
    }

    /// The best `k` passages of the site's published articles for `query`, hybrid when there is an
    /// embedder, BM25 otherwise. Blocking (embeds the query).
    pub fn search(&self, site_id: &SiteId, query: &str, k: usize) -> Result<Retrieval> {
        let vector = self.embed_query(query)?;
        self.search_with(site_id, query, vector.as_deref(), &SearchOptions { k, ranking: Ranking::default() })
    }

    /// Search with a query vector computed beforehand (or none: BM25 only) and explicit options.
    /// Blocking (no embedding).
    pub fn search_with(
        &self,
        site_id: &SiteId,
        query: &str,
        query_vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Retrieval> {
        let site_key = site_id.to_string();
        let state = self.state.read().map_err(poisoned)?;
        let Some(site) = state.sites.get(&site_key) else {
            return Ok(Retrieval::default());
        };
        if site.chunks.is_empty() || options.k == 0 {
            return Ok(Retrieval::default());
        }
        let dim = self.dim();
        let semantic_on = dim > 0
            && query_vector.is_some_and(|v| v.len() == dim)
            && site.vectorless == 0
            && site.vectors.len() == site.row_chunk.len() * dim
            && options.ranking != Ranking::Lexical;
        let lexical_on = !matches!(options.ranking, Ranking::Semantic) || !semantic_on;

        // Lexical candidates: (chunk index, bm25).
        let lexical: Vec<(usize, f32)> =
            if lexical_on { self.bm25(site, &site_key, query, CANDIDATES.max(options.k))? } else { Vec::new() };
        // Semantic: every chunk of the site, (whole-chunk cosine + best cosine of its views) / 2;
        // ranked by the centered cosine, judged (confidence) by the plain one.
        let scores = match (semantic_on, query_vector) {
            (true, Some(q)) => site.semantic_scores(q, dim),
            _ => SemanticScores { plain: Vec::new(), centered: Vec::new() },
        };
        let cosines = &scores.centered;
        let semantic: Vec<(usize, f32)> = top_n(cosines, CANDIDATES.max(options.k));
        let best_plain =
            scores.plain.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));

        let top_lexical = lexical.first().map(|&(_, s)| s);
        let lexical_coverage = match lexical.first() {
            Some(&(i, _)) => Some(self.coverage(query, &site.chunks[i])?),
            None if lexical_on => Some(0.0),
            None => None,
        };
        let top_semantic = best_plain.map(|(_, s)| s);
        let rankers_agree = match (lexical.first(), best_plain.as_ref()) {
            (Some(&(l, _)), Some(&(s, _))) => Some(site.chunks[l].article_id == site.chunks[s].article_id),
            _ => None,
        };

        // Union of candidates with both scores.
        let mut candidates: HashMap<usize, (Option<f32>, Option<f32>, usize, usize)> = HashMap::new();
        for (rank, &(i, s)) in lexical.iter().enumerate() {
            let c = candidates.entry(i).or_insert((None, None, usize::MAX, usize::MAX));
            c.0 = Some(s);
            c.2 = rank;
        }
        for (rank, &(i, _)) in semantic.iter().enumerate() {
            candidates.entry(i).or_insert((None, None, usize::MAX, usize::MAX)).3 = rank;
        }
        let best_lexical = top_lexical.unwrap_or(0.0);
        // Hybrid: the articles of the semantic shortlist (the rest is ranked after them, by cosine).
        let shortlist: Option<HashSet<ArticleId>> = match options.ranking {
            Ranking::Hybrid { shortlist, .. } if semantic_on && shortlist < usize::MAX => {
                let mut articles = HashSet::new();
                for &(i, _) in &semantic {
                    if articles.len() == shortlist {
                        break;
                    }
                    articles.insert(site.chunks[i].article_id);
                }
                Some(articles)
            }
            _ => None,
        };
        let mut scored: Vec<Scored> = candidates
            .into_iter()
            .map(|(i, (lex, _, lrank, srank))| {
                let cos = cosines.get(i).copied();
                let mut shortlisted = false;
                let score = if !semantic_on {
                    lex.unwrap_or(0.0)
                } else {
                    match options.ranking {
                        Ranking::Lexical => lex.unwrap_or(0.0),
                        Ranking::Semantic => cos.unwrap_or(0.0),
                        Ranking::Hybrid { lexical_weight, .. } => {
                            shortlisted = shortlist.as_ref().is_none_or(|s| s.contains(&site.chunks[i].article_id));
                            let rel = match lex {
                                Some(l) if best_lexical > 0.0 && shortlisted => l / best_lexical,
                                _ => 0.0,
                            };
                            cos.unwrap_or(0.0) + lexical_weight * rel
                        }
                        Ranking::Rrf { k } => {
                            let part = |r: usize| if r == usize::MAX { 0.0 } else { 1.0 / (k + r as f32 + 1.0) };
                            part(lrank) + part(srank)
                        }
                    }
                };
                Scored { chunk: i, shortlisted, score, lexical: lex, plain: scores.plain.get(i).copied() }
            })
            .collect();
        scored.sort_by(|a, b| {
            b.shortlisted.cmp(&a.shortlisted).then(b.score.total_cmp(&a.score)).then(a.chunk.cmp(&b.chunk))
        });
        scored.truncate(options.k);
        let passages = scored
            .into_iter()
            .map(|Scored { chunk, score, lexical: lex, plain: cos, .. }| {
                let c = &site.chunks[chunk];
                Passage {
                    chunk_id: c.chunk_id.clone(),
                    article_id: c.article_id,
                    article_title: c.title.clone(),
                    heading: c.heading.clone(),
                    text: c.text.clone(),
                    url: c.url.clone(),
                    locale: c.locale.clone(),
                    lexical_score: lex,
                    semantic_score: cos,
                    score,
                }
            })
            .collect();
        Ok(Retrieval { passages, top_lexical, top_semantic, rankers_agree, lexical_coverage })
    }

    /// The IDF-weighted share of the query's terms (as the chunk's language analyzes them) that
    /// occur in the chunk's indexed text.
    fn coverage(&self, query: &str, chunk: &ChunkRecord) -> Result<f32> {
        let language = language_of(&chunk.locale);
        let (Some(field), Some(analyzer)) = (self.bodies.get(language), self.analyzers.get(language)) else {
            return Ok(0.0);
        };
        let terms = |text: &str| {
            let mut analyzer = analyzer.clone();
            let mut stream = analyzer.token_stream(text);
            let mut out = std::collections::BTreeSet::new();
            while stream.advance() {
                out.insert(stream.token().text.clone());
            }
            out
        };
        let asked = terms(&crate::question_words::strip(query));
        if asked.is_empty() {
            return Ok(0.0);
        }
        let present = terms(&crate::chunk::indexed_text(&chunk.title, &chunk.heading, &chunk.text));
        let searcher = self.reader.searcher();
        let docs = searcher.num_docs() as f32;
        let (mut covered, mut total) = (0.0f32, 0.0f32);
        for term in &asked {
            // A term no document has weighs like the rarest one that some document has.
            let df = (searcher.doc_freq(&Term::from_field_text(*field, term))? as f32).max(1.0);
            let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln();
            total += idf;
            if present.contains(term) {
                covered += idf;
            }
        }
        Ok(if total > 0.0 { covered / total } else { 0.0 })
    }

    /// BM25 over the site's chunks: (chunk index in `site`, score), best first.
    fn bm25(&self, site: &SiteData, site_key: &str, query: &str, n: usize) -> Result<Vec<(usize, f32)>> {
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (&language, &count) in &site.languages {
            if count == 0 {
                continue;
            }
            let (Some(field), Some(analyzer)) = (self.bodies.get(language), self.analyzers.get(language)) else {
                continue;
            };
            let mut analyzer = analyzer.clone();
            // The question's form ("how do I …") is not its topic: those words match nearly every
            // passage and only add noise to the ranking.
            let topic = crate::question_words::strip_for(language, query);
            let mut stream = analyzer.token_stream(&topic);
            let mut seen = std::collections::HashSet::new();
            while stream.advance() {
                let text = stream.token().text.clone();
                if seen.insert(text.clone()) {
                    should.push((
                        Occur::Should,
                        Box::new(TermQuery::new(Term::from_field_text(*field, &text), IndexRecordOption::WithFreqs)),
                    ));
                }
            }
        }
        if should.is_empty() {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(should)) as Box<dyn Query>),
            (Occur::Must, Box::new(ConstScoreQuery::new(self.term_query(self.fields.site_id, site_key), 0.0))),
        ]);
        let searcher = self.reader.searcher();
        let hits = searcher.search(&query, &TopDocs::with_limit(n).order_by_score())?;
        let mut out = Vec::with_capacity(hits.len());
        let mut columns = HashMap::new();
        for (score, address) in hits {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(searcher.segment_reader(address.segment_ord).fast_fields().u64("key")?)
                }
            };
            if let Some(key) = column.first(address.doc_id)
                && let Some(&i) = site.by_key.get(&key)
            {
                out.push((i, score));
            }
        }
        Ok(out)
    }

    /// The tantivy index (for diagnostics).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}

/// The `n` largest values with their positions, largest first.
fn top_n(values: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    if idx.len() > n {
        idx.select_nth_unstable_by(n - 1, |&a, &b| values[b].total_cmp(&values[a]));
        idx.truncate(n);
    }
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.into_iter().map(|i| (i, values[i])).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_analyzers() {
        assert_eq!(language_of("nl-BE"), "nl");
        assert_eq!(language_of("de_AT"), "de");
        assert_eq!(language_of("nb"), "no");
        assert_eq!(language_of("xx"), "en");
        assert_eq!(language_of(""), "en");
    }

    #[test]
    fn site_data_keeps_rows_with_their_chunks() {
        let record = |n: u128, key: u64| ChunkRecord {
            key,
            chunk_id: format!("{n}#{key}"),
            article_id: ArticleId(frontdesk_core::ids::Uuid::from_u128(n)),
            title: String::new(),
            heading: String::new(),
            text: String::new(),
            url: None,
            locale: "en".into(),
        };
        let mut site = SiteData::default();
        site.push(record(1, 10), Some(&[1.0, 1.0, 2.0, 2.0]), 2);
        site.push(record(2, 20), Some(&[3.0, 3.0]), 2);
        site.push(record(1, 11), Some(&[4.0, 4.0, 5.0, 5.0, 6.0, 6.0]), 2);
        assert_eq!(site.row_chunk, vec![0, 0, 1, 2, 2, 2]);
        site.remove_article(ArticleId(frontdesk_core::ids::Uuid::from_u128(1)), 2);
        assert_eq!(site.chunks.len(), 1);
        assert_eq!(site.by_key.get(&20), Some(&0));
        assert_eq!((site.vectors.as_slice(), site.row_chunk.as_slice()), (&[3.0, 3.0][..], &[0][..]));
        // Replacing a chunk by id replaces its rows; a chunk without vectors is counted.
        site.push(record(2, 20), Some(&[7.0, 7.0]), 2);
        site.push(record(3, 30), None, 2);
        assert_eq!((site.vectors.as_slice(), site.row_chunk.as_slice()), (&[7.0, 7.0][..], &[0][..]));
        assert_eq!(site.vectorless, 1);
        assert_eq!(site.by_key.get(&30), Some(&1));
    }

    #[test]
    fn a_view_lifts_a_chunk_by_half_its_margin() {
        let record = test_record;
        let mut site = SiteData::default();
        // whole chunk 0.2, lead 0.8 → 0.5; whole chunk 0.6, lead 0.4 → 0.6; one vector 0.3 → 0.3.
        site.push(record(1), Some(&[0.2, 0.0, 0.8, 0.0]), 2);
        site.push(record(2), Some(&[0.6, 0.0, 0.4, 0.0]), 2);
        site.push(record(3), Some(&[0.3, 0.0]), 2);
        let scores = site.semantic_scores(&[1.0, 0.0], 2).plain;
        for (got, want) in scores.iter().zip([0.5, 0.6, 0.3]) {
            assert!((got - want).abs() < 1e-6, "{scores:?}");
        }
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::embed::l2_normalize(&mut v);
        v
    }

    fn test_record(key: u64) -> ChunkRecord {
        ChunkRecord {
            key,
            chunk_id: key.to_string(),
            article_id: ArticleId(frontdesk_core::ids::Uuid::from_u128(u128::from(key))),
            title: String::new(),
            heading: String::new(),
            text: String::new(),
            url: None,
            locale: "en".into(),
        }
    }

    #[test]
    fn the_centered_cosine_is_the_cosine_of_the_centered_vectors() {
        let mut site = SiteData::default();
        let chunks = [
            vec![unit(&[0.9, 0.3, 0.1]), unit(&[0.2, 0.9, 0.4])],
            vec![unit(&[0.5, 0.5, 0.7])],
            vec![unit(&[0.1, 0.2, 0.95])],
        ];
        for (key, views) in (1..).zip(&chunks) {
            site.push(test_record(key), Some(&views.concat()), 3);
        }
        let q = unit(&[0.7, 0.6, 0.2]);
        let scores = site.semantic_scores(&q, 3);
        // The mean of each chunk's first (whole-text) vector, scaled by CENTERING.
        let mean: Vec<f32> =
            (0..3).map(|d| CENTERING * chunks.iter().map(|views| views[0][d]).sum::<f32>() / 3.0).collect();
        let centered_cos = |v: &[f32]| {
            let a: Vec<f32> = q.iter().zip(&mean).map(|(x, m)| x - m).collect();
            let b: Vec<f32> = v.iter().zip(&mean).map(|(x, m)| x - m).collect();
            dot(&a, &b) / (dot(&a, &a).sqrt() * dot(&b, &b).sqrt())
        };
        for (i, views) in chunks.iter().enumerate() {
            let whole = centered_cos(&views[0]);
            let best = views.iter().map(|v| centered_cos(v)).fold(f32::NEG_INFINITY, f32::max);
            let want = 0.5 * (whole + best);
            assert!((scores.centered[i] - want).abs() < 1e-5, "chunk {i}: {} vs {want}", scores.centered[i]);
            let plain = 0.5 * (dot(&q, &views[0]) + views.iter().map(|v| dot(&q, v)).fold(f32::NEG_INFINITY, f32::max));
            assert!((scores.plain[i] - plain).abs() < 1e-5);
        }
        // A change of the vectors recomputes the mean.
        site.retain(|c| c.key != 3, 3);
        let after = site.semantic_scores(&q, 3);
        assert_eq!(after.centered.len(), 2);
        assert!((after.centered[0] - scores.centered[0]).abs() > 1e-4, "the mean moved");
    }

    #[test]
    fn centering_ranks_a_specific_passage_above_a_generic_one() {
        // Five passages share a common direction (the first axis); "generic" is nearly only that,
        // "specific" adds what the question is about (the last axis).
        let mut site = SiteData::default();
        let generic = unit(&[1.0, 0.1, 0.1, 0.1, 0.2]);
        let specific = unit(&[0.7, 0.0, 0.0, 0.0, 0.71]);
        let others =
            [unit(&[0.85, 0.5, 0.0, 0.0, 0.0]), unit(&[0.85, 0.0, 0.5, 0.0, 0.0]), unit(&[0.85, 0.0, 0.0, 0.5, 0.0])];
        for (key, v) in (1..).zip([&generic, &specific, &others[0], &others[1], &others[2]]) {
            site.push(test_record(key), Some(v), 5);
        }
        let q = unit(&[0.9, 0.0, 0.0, 0.0, 0.45]);
        let s = site.semantic_scores(&q, 5);
        assert!(s.plain[0] > s.plain[1], "plainly the generic passage is closer: {:?}", s.plain);
        assert!(s.centered[1] > s.centered[0], "centered, the specific one wins: {:?}", s.centered);
    }

    #[test]
    fn top_n_orders() {
        let v = [0.1, 0.9, 0.5, 0.7];
        assert_eq!(top_n(&v, 2), vec![(1, 0.9), (3, 0.7)]);
        assert_eq!(top_n(&v, 10).len(), 4);
    }

    #[test]
    fn stemming_matches_inflections() {
        let terms = |lang: Language, text: &str| {
            let mut a = analyzer(lang);
            let mut s = a.token_stream(text);
            let mut out = Vec::new();
            while s.advance() {
                out.push(s.token().text.clone());
            }
            out
        };
        assert_eq!(terms(Language::Dutch, "bestellingen"), terms(Language::Dutch, "bestelling"));
        assert_eq!(terms(Language::German, "Rechnungen"), terms(Language::German, "Rechnung"));
        assert_eq!(terms(Language::English, "returns"), terms(Language::English, "returning"));
    }
}
