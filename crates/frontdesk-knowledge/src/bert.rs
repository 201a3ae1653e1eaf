//! The BERT encoder of a sentence model (all-MiniLM-L6-v2), forward pass only, on candle tensors.
//!
//! The same computation as `candle_transformers::models::bert::BertModel` (post-norm BERT, erf GELU,
//! absolute positions, token type 0), written for how the embedder uses it:
//!
//! - **Weights laid out for short inputs.** A visitor's question is ~10–20 tokens, so every linear
//!   layer is a skinny product (a few rows times a 384 × 1536 matrix): its cost is reading the weights
//!   (~40 MB for the six layers), not arithmetic. With the file's `out × in` layout the matrix-product
//!   kernel re-packs every weight matrix on every call (half of a question's time), and with a plain
//!   `in × out` copy it reads the weights 6 KB apart per step, which defeats the prefetcher. So each
//!   weight is also stored as strips of [`STRIP`] output columns, each strip `in × STRIP` row-major
//!   and contiguous: one batched product over the strips then reads the weights front to back.
//!   Long inputs (indexing) use the `in × out` copy, where the kernel's own packing pays off.
//! - **No attention mask when nothing is padded** (one text, or a batch of equal lengths).
//! - Query, key and value are one product (`in × 3·dim`).
//!
//! Results equal `BertModel`'s to float rounding (a test checks cosine ≥ 0.9999 per text).

use candle_core::{DType, Device, Result, Tensor};
use std::collections::HashMap;

/// Output columns per weight strip (see the module documentation).
const STRIP: usize = 32;

/// Inputs of at most this many tokens in all (batch × length) take the strip layout.
pub const SHORT_MAX_TOKENS: usize = 256;

/// Unpadded inputs of at most this many tokens in all go through [`Bert::forward_short`] (its
/// attention is plain loops, quadratic in the length: right for a question, not for a passage).
pub const LOOP_MAX_TOKENS: usize = 64;

/// A linear layer `y = x · Wᵀ + b`.
struct Linear {
    /// `Wᵀ`, `in × out`, contiguous.
    wt: Tensor,
    /// `Wᵀ` as `out / STRIP` strips of `in × STRIP`, contiguous (`None` when `out` is not a multiple).
    strips: Option<Tensor>,
    bias: Tensor,
    /// The bias as plain floats, for [`Bert::forward_short`].
    bias_v: Vec<f32>,
    out: usize,
}

impl Linear {
    /// From weights `w` (`out × in`) and bias `b` (`out`).
    fn new(w: &Tensor, bias: Tensor) -> Result<Self> {
        let (out, inp) = w.dims2()?;
        let wt = w.t()?.contiguous()?;
        let strips = if out.is_multiple_of(STRIP) {
            Some(w.reshape((out / STRIP, STRIP, inp))?.transpose(1, 2)?.contiguous()?)
        } else {
            None
        };
        let bias_v = bias.to_vec1::<f32>()?;
        Ok(Self { wt, strips, bias, bias_v, out })
    }

    /// `x` (`rows × in`, row-major) → `rows × out` with the bias added, as plain floats.
    fn forward_short(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        let inp = self.wt.dim(0)?;
        let x = Tensor::from_slice(x, (rows, inp), self.wt.device())?;
        let out = self.out;
        let mut y = match &self.strips {
            Some(strips) => {
                let (n, _, width) = strips.dims3()?;
                // (strips, rows, width), reordered to (rows, out) below.
                let s = x.broadcast_as((n, rows, inp))?.matmul(strips)?.flatten_all()?.to_vec1::<f32>()?;
                let mut y = vec![0f32; rows * out];
                for (strip, block) in s.chunks_exact(rows * width).enumerate() {
                    for (r, part) in block.chunks_exact(width).enumerate() {
                        let start = r * out + strip * width;
                        y[start..start + width].copy_from_slice(part);
                    }
                }
                y
            }
            None => x.matmul(&self.wt)?.flatten_all()?.to_vec1::<f32>()?,
        };
        for row in y.chunks_exact_mut(out) {
            row.iter_mut().zip(&self.bias_v).for_each(|(v, b)| *v += b);
        }
        Ok(y)
    }

    /// `x`: `rows × in` → `rows × out`.
    fn forward(&self, x: &Tensor, short: bool) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let y = match (&self.strips, short) {
            // (strips, rows, STRIP) → (rows, strips, STRIP) → (rows, out)
            (Some(strips), true) => {
                // x as a batch of `strips` copies by a zero stride (not materialized).
                let (n, inp, _) = strips.dims3()?;
                x.broadcast_as((n, rows, inp))?
                    .matmul(strips)?
                    .transpose(0, 1)?
                    .contiguous()?
                    .reshape((rows, self.out))?
            }
            _ => x.matmul(&self.wt)?,
        };
        y.broadcast_add(&self.bias)
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    weight_v: Vec<f32>,
    bias_v: Vec<f32>,
}

impl Norm {
    fn new(weight: Tensor, bias: Tensor) -> Result<Self> {
        let (weight_v, bias_v) = (weight.to_vec1::<f32>()?, bias.to_vec1::<f32>()?);
        Ok(Self { weight, bias, weight_v, bias_v })
    }

    /// `x + residual`, normalized row by row in place of `x` (as `candle_nn::ops::layer_norm`).
    fn add_forward_short(&self, x: &mut [f32], residual: Option<&[f32]>, eps: f32) {
        let dim = self.weight_v.len().max(1);
        if let Some(r) = residual {
            x.iter_mut().zip(r).for_each(|(v, r)| *v += r);
        }
        for row in x.chunks_exact_mut(dim) {
            let (mut sum, mut sum2) = (0f32, 0f32);
            for &v in row.iter() {
                sum += v;
                sum2 += v * v;
            }
            let mean = sum / dim as f32;
            let var = sum2 / dim as f32 - mean * mean;
            let inv_std = (var + eps).sqrt().recip();
            for ((v, w), b) in row.iter_mut().zip(&self.weight_v).zip(&self.bias_v) {
                *v = (*v - mean) * inv_std * w + b;
            }
        }
    }

    fn forward(&self, x: &Tensor, eps: f32) -> Result<Tensor> {
        candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, eps)
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// The encoder: token ids in, one hidden vector per token out.
pub struct Bert {
    word: Tensor,
    position: Tensor,
    /// The token-type-0 embedding (`dim`): single-sentence inputs only.
    token_type: Tensor,
    token_type_v: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    dim: usize,
    eps: f32,
    device: Device,
}

impl Bert {
    /// From a safetensors file's tensors (names as in the sentence-transformers checkpoint, with or
    /// without a `bert.` prefix).
    pub fn load(
        tensors: &HashMap<String, Tensor>,
        config: &candle_transformers::models::bert::Config,
        device: &Device,
    ) -> Result<Self> {
        let prefix = if tensors.keys().any(|k| k.starts_with("bert.")) { "bert." } else { "" };
        let get = |name: &str| -> Result<Tensor> {
            tensors
                .get(&format!("{prefix}{name}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {prefix}{name}")))?
                .to_dtype(DType::F32)?
                .to_device(device)
        };
        let norm =
            |name: &str| -> Result<Norm> { Norm::new(get(&format!("{name}.weight"))?, get(&format!("{name}.bias"))?) };
        let linear = |name: &str| -> Result<Linear> {
            Linear::new(&get(&format!("{name}.weight"))?, get(&format!("{name}.bias"))?)
        };
        let dim = config.hidden_size;
        if config.num_attention_heads == 0 || !dim.is_multiple_of(config.num_attention_heads) {
            return Err(candle_core::Error::Msg("hidden size is not a multiple of the attention heads".into()));
        }
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let a = format!("{p}.attention.self");
                let w = Tensor::cat(
                    &[
                        get(&format!("{a}.query.weight"))?,
                        get(&format!("{a}.key.weight"))?,
                        get(&format!("{a}.value.weight"))?,
                    ],
                    0,
                )?;
                let b = Tensor::cat(
                    &[
                        get(&format!("{a}.query.bias"))?,
                        get(&format!("{a}.key.bias"))?,
                        get(&format!("{a}.value.bias"))?,
                    ],
                    0,
                )?;
                Ok(Layer {
                    qkv: Linear::new(&w, b)?,
                    attention_out: linear(&format!("{p}.attention.output.dense"))?,
                    attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: linear(&format!("{p}.intermediate.dense"))?,
                    output: linear(&format!("{p}.output.dense"))?,
                    output_norm: norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let token_type = get("embeddings.token_type_embeddings.weight")?.get(0)?;
        Ok(Self {
            word: get("embeddings.word_embeddings.weight")?,
            position: get("embeddings.position_embeddings.weight")?,
            token_type_v: token_type.to_vec1::<f32>()?,
            token_type,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            heads: config.num_attention_heads,
            dim,
            eps: config.layer_norm_eps as f32,
            device: device.clone(),
        })
    }

    /// Mean-pooled last hidden states of `n` unpadded sequences of `len` token ids each (`ids` is
    /// `n · len` long), `n × dim` row-major: the path of a visitor's question. Only the four
    /// products per layer go through candle (on the strips); attention (a few hundred multiply-adds
    /// per head), softmax, GELU and normalization are plain loops, which saves a third of candle's
    /// per-operation overhead (allocation, a thread-pool hand-off, and for every product a read of
    /// `/proc/cpuinfo` by candle to count the cores).
    pub fn forward_short(&self, ids: Vec<u32>, n: usize, len: usize) -> Result<Vec<f32>> {
        let (dim, heads) = (self.dim, self.heads);
        let head_dim = dim / heads;
        let rows = n * len;
        if rows == 0 {
            return Ok(vec![0.0; n * dim]);
        }
        let ids = Tensor::from_vec(ids, rows, &self.device)?;
        let mut x = self.word.index_select(&ids, 0)?.flatten_all()?.to_vec1::<f32>()?;
        let position = self.position.narrow(0, 0, len)?.flatten_all()?.to_vec1::<f32>()?;
        for (r, row) in x.chunks_exact_mut(dim).enumerate() {
            let p = &position[(r % len) * dim..(r % len + 1) * dim];
            for ((v, t), p) in row.iter_mut().zip(&self.token_type_v).zip(p) {
                *v = *v + t + p;
            }
        }
        self.embedding_norm.add_forward_short(&mut x, None, self.eps);
        let scale = 1.0 / (head_dim as f32).sqrt();
        let mut context = vec![0f32; rows * dim];
        let mut scores = vec![0f32; len];
        for layer in &self.layers {
            let qkv = layer.qkv.forward_short(&x, rows)?; // rows × 3·dim: q | k | v
            context.iter_mut().for_each(|c| *c = 0.0);
            for seq in 0..n {
                for h in 0..heads {
                    let at = |row: usize, part: usize| {
                        let start = (seq * len + row) * 3 * dim + part * dim + h * head_dim;
                        &qkv[start..start + head_dim]
                    };
                    for i in 0..len {
                        let q = at(i, 0);
                        let mut max = f32::NEG_INFINITY;
                        for (j, s) in scores.iter_mut().enumerate() {
                            *s = q.iter().zip(at(j, 1)).map(|(a, b)| a * b).sum::<f32>() * scale;
                            max = max.max(*s);
                        }
                        let mut sum = 0f32;
                        for s in scores.iter_mut() {
                            *s = (*s - max).exp();
                            sum += *s;
                        }
                        let start = (seq * len + i) * dim + h * head_dim;
                        let out = &mut context[start..start + head_dim];
                        for (j, s) in scores.iter().enumerate() {
                            let p = s / sum;
                            out.iter_mut().zip(at(j, 2)).for_each(|(o, v)| *o += p * v);
                        }
                    }
                }
            }
            let mut attended = layer.attention_out.forward_short(&context, rows)?;
            layer.attention_norm.add_forward_short(&mut attended, Some(&x), self.eps);
            x = attended;
            let mut hidden = layer.intermediate.forward_short(&x, rows)?;
            hidden.iter_mut().for_each(|v| *v = gelu(*v));
            let mut out = layer.output.forward_short(&hidden, rows)?;
            layer.output_norm.add_forward_short(&mut out, Some(&x), self.eps);
            x = out;
        }
        let mut pooled = vec![0f32; n * dim];
        for (seq, p) in pooled.chunks_exact_mut(dim).enumerate() {
            for row in x[seq * len * dim..(seq + 1) * len * dim].chunks_exact(dim) {
                p.iter_mut().zip(row).for_each(|(p, v)| *p += v);
            }
            p.iter_mut().for_each(|v| *v /= len as f32);
        }
        Ok(pooled)
    }

    /// The last hidden states, `n × len × dim`, of `n` sequences of `len` token ids each (`ids` is
    /// `n · len` long). `mask` (`n · len`, 1 = token, 0 = padding) is needed only when some sequence
    /// is padded.
    pub fn forward(&self, ids: Vec<u32>, n: usize, len: usize, mask: Option<Vec<u32>>) -> Result<Tensor> {
        let short = n * len <= SHORT_MAX_TOKENS;
        let (dim, heads) = (self.dim, self.heads);
        let head_dim = dim / heads;
        let ids = Tensor::from_vec(ids, n * len, &self.device)?;
        let x = self.word.index_select(&ids, 0)?.reshape((n, len, dim))?;
        let x = x.broadcast_add(&self.position.narrow(0, 0, len)?)?.broadcast_add(&self.token_type)?;
        let mut x = self.embedding_norm.forward(&x.reshape((n * len, dim))?, self.eps)?;
        // Padding: −∞ (as float min) on the keys that are padding, shape (n, 1, 1, len).
        let bias = match mask {
            Some(m) => {
                let m = Tensor::from_vec(m, (n, 1, 1, len), &self.device)?.to_dtype(DType::F32)?;
                Some(((m - 1.0)? * f64::from(f32::MAX))?)
            }
            None => None,
        };
        let scale = 1.0 / (head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, short)?; // (n·len, 3·dim)
            let split = |i: usize| -> Result<Tensor> {
                qkv.narrow(1, i * dim, dim)?.reshape((n, len, heads, head_dim))?.transpose(1, 2)?.contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?); // (n, heads, len, head_dim)
            let mut scores = (q.matmul(&k.t()?)? * scale)?; // (n, heads, len, len)
            if let Some(bias) = &bias {
                scores = scores.broadcast_add(bias)?;
            }
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n * len, dim))?;
            let attended = layer.attention_out.forward(&context, short)?;
            x = layer.attention_norm.forward(&(attended + &x)?, self.eps)?;
            let hidden = layer.intermediate.forward(&x, short)?.gelu_erf()?;
            let out = layer.output.forward(&hidden, short)?;
            x = layer.output_norm.forward(&(out + &x)?, self.eps)?;
        }
        x.reshape((n, len, dim))
    }
}

/// GELU with the error function, `x · (1 + erf(x / √2)) / 2`, as BERT uses it.
#[inline]
fn gelu(x: f32) -> f32 {
    (erf(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// The error function to within 4e-7 (absolute; f32's spacing near 1 is 1.2e-7): `x · P(x²) / Q(x²)`
/// on [−4, 4], ±1 beyond (where erf is 1 to f32 precision). A rational least-squares fit of degree
/// 5/5 in x², made for this crate; unlike libm's `erff` it has no branches or `exp`, so the compiler
/// vectorizes the GELU loop (libm's was 14% of a question's embedding time).
#[inline]
fn erf(x: f32) -> f32 {
    const P: [f32; 6] = [1.128_377, 0.220_200_45, 0.056_754_414, 0.005_098_892_4, 0.000_324_646_1, 1.925_802e-6];
    const Q: [f32; 6] = [1.0, 0.528_462, 0.126_505_21, 0.017_577_27, 0.001_507_268_3, 3.893_564_6e-5];
    let x = x.clamp(-4.0, 4.0);
    let t = x * x;
    let p = P[0] + t * (P[1] + t * (P[2] + t * (P[3] + t * (P[4] + t * P[5]))));
    let q = Q[0] + t * (Q[1] + t * (Q[2] + t * (Q[3] + t * (Q[4] + t * Q[5]))));
    x * p / q
}

/// Mean over the tokens (those with mask 1 when a mask is given), `n × len × dim` → `n` vectors.
pub fn mean_pool(hidden: &Tensor, mask: Option<&[u32]>) -> Result<Vec<Vec<f32>>> {
    let (n, len, _) = hidden.dims3()?;
    let pooled = match mask {
        None => (hidden.sum(1)? / len as f64)?,
        Some(m) => {
            let m = Tensor::from_vec(m.to_vec(), (n, len, 1), hidden.device())?.to_dtype(DType::F32)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            summed.broadcast_div(&counts)?
        }
    };
    pooled.to_vec2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f32;
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) - libm::erff(x)).abs());
        }
        assert!(worst < 5e-7, "max |erf − libm::erff| = {worst}");
        assert_eq!(erf(f32::INFINITY), erf(4.0));
        assert_eq!(erf(f32::NEG_INFINITY), -erf(4.0));
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!(gelu(-10.0).abs() < 1e-6 && (gelu(10.0) - 10.0).abs() < 1e-5);
    }
}
