//! Per-character tables of steps 1-4: compatibility and case folding, the separator classes,
//! traditional to simplified (OpenCC's `TSCharacters`) and the variant folds, and the
//! per-process table of results for every three-byte character.
//!
//! Guarantees: built once per process (tens of milliseconds), read-only afterwards; a
//! table entry is exactly what the per-character definition gives for that character.

use super::*;

/// What a (folded) character is for the separator rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// A CJK ideograph (or ideographic iteration mark / number).
    Cjk,
    /// Space, punctuation, symbol, emoji: removed between two CJK characters.
    Separator,
    /// Zero-width and other invisible characters: always removed.
    Invisible,
    /// Letters and digits of other scripts.
    Other,
}

impl Class {
    /// Code in a [`Fold3`] entry (never 0, which means "no entry").
    pub(super) fn code(self) -> u32 {
        match self {
            Class::Cjk => 1,
            Class::Separator => 2,
            Class::Invisible => 3,
            Class::Other => 4,
        }
    }

    pub(super) fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Class::Cjk),
            2 => Some(Class::Separator),
            3 => Some(Class::Invisible),
            4 => Some(Class::Other),
            _ => None,
        }
    }
}

pub(super) fn class(c: char) -> Class {
    let cp = c as u32;
    if cp < 0x80 {
        return if c.is_ascii_alphanumeric() {
            Class::Other
        } else {
            Class::Separator
        };
    }
    match cp {
        0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3134F
        | 0x3005..=0x3007
        | 0x3021..=0x3029
        | 0x3038..=0x303B => Class::Cjk,
        0x00AD
        | 0x034F
        | 0x061C
        | 0x115F
        | 0x1160
        | 0x17B4
        | 0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0x2800
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0x1BCA0..=0x1BCA3
        | 0xE0000..=0xE0FFF => Class::Invisible,
        0x0080..=0x00BF
        | 0x00D7
        | 0x00F7
        | 0x2000..=0x2BFF
        | 0x2E00..=0x2E7F
        | 0x3000..=0x303F
        | 0x30FB
        | 0xFE10..=0xFE1F
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF0F
        | 0xFF1A..=0xFF20
        | 0xFF3B..=0xFF40
        | 0xFF5B..=0xFF65
        | 0xFFE0..=0xFFEF
        | 0xFFF0..=0xFFFF
        | 0xE000..=0xF8FF
        | 0x1F000..=0x1FAFF
        | 0xF0000..=0x10FFFF => Class::Separator,
        _ => Class::Other,
    }
}

/// Latin look-alikes from Cyrillic and Greek (lower case) that scripts use to dodge ASCII keywords.
pub(super) fn latin_lookalike(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'ν' => 'v',
        'ѡ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => c,
    }
}

/// One result of the per-character fold (steps 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// A character, already case-folded.
    Char(char),
    /// A combining mark, to compose with the previous character.
    Mark(char),
}

/// Case folding of one decomposed character: ASCII lower case, Latin look-alikes.
#[inline]
pub(super) fn lower_fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        latin_lookalike(c)
    }
}

/// Steps 1 and 2 for one character: full-width forms, the ideographic space, compatibility
/// decomposition and case folding, in output order.
pub(super) fn fold_steps(c: char, mut step: impl FnMut(Step)) {
    let cp = c as u32;
    if (0xFF01..=0xFF5E).contains(&cp) {
        // Full-width ASCII: same order as ASCII, offset 0xFEE0.
        if let Some(ascii) = char::from_u32(cp - 0xFEE0) {
            step(Step::Char(ascii.to_ascii_lowercase()));
        }
        return;
    }
    if cp == 0x3000 {
        step(Step::Char(' '));
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            step(Step::Mark(d));
        } else if d.is_uppercase() {
            for l in d.to_lowercase() {
                step(Step::Char(lower_fold(l)));
            }
        } else {
            step(Step::Char(lower_fold(d)));
        }
    });
}

/// Character-level traditional → simplified table: a bitmap over the BMP CJK blocks for a quick
/// "no change" answer (most text is already simplified), and a hash map for the characters that do
/// change.
#[derive(Debug)]
pub(super) struct T2s {
    pub(super) bitmap: Box<[u64]>,
    pub(super) map: FxHashMap<char, char>,
}

pub(super) const BMP_LO: u32 = 0x3400;
pub(super) const BMP_HI: u32 = 0xA000;
pub(super) const SIP_LO: u32 = 0x20000;
pub(super) const SIP_HI: u32 = 0x30000;

impl T2s {
    #[inline]
    pub(super) fn get(&self, c: char) -> char {
        let cp = c as u32;
        if (BMP_LO..BMP_HI).contains(&cp) {
            let k = (cp - BMP_LO) as usize;
            let word = self.bitmap.get(k / 64).copied().unwrap_or(0);
            if (word >> (k % 64)) & 1 == 0 {
                return c;
            }
        } else if !(SIP_LO..SIP_HI).contains(&cp) {
            return c;
        }
        self.map.get(&c).copied().unwrap_or(c)
    }

    pub(super) fn build() -> Result<Self, TextError> {
        let converter =
            ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s)
                .map_err(|e| TextError::T2sTable {
                    message: e.to_string(),
                })?;
        // Convert every candidate character on its own line so phrases never apply.
        let candidates: Vec<char> = (BMP_LO..BMP_HI)
            .chain(SIP_LO..SIP_HI)
            .filter_map(char::from_u32)
            .collect();
        let mut input = String::with_capacity(candidates.len() * 5);
        for &c in &candidates {
            input.push(c);
            input.push('\n');
        }
        let converted = converter.convert(&input);
        let mut map = FxHashMap::default();
        let mut bitmap = vec![0u64; ((BMP_HI - BMP_LO) as usize).div_ceil(64)].into_boxed_slice();
        for (&from, line) in candidates.iter().zip(converted.split('\n')) {
            let mut chars = line.chars();
            let (Some(to), None) = (chars.next(), chars.next()) else {
                continue;
            };
            if to == from || class(to) != Class::Cjk {
                continue;
            }
            map.insert(from, to);
            let cp = from as u32;
            if (BMP_LO..BMP_HI).contains(&cp) {
                let k = (cp - BMP_LO) as usize;
                if let Some(word) = bitmap.get_mut(k / 64) {
                    *word |= 1u64 << (k % 64);
                }
            }
        }
        for &(variant, preferred) in VARIANT_FOLDS {
            for to in map.values_mut() {
                if *to == variant {
                    *to = preferred;
                }
            }
            map.insert(variant, preferred);
            let k = (variant as u32).wrapping_sub(BMP_LO) as usize;
            if let Some(word) = bitmap.get_mut(k / 64) {
                *word |= 1u64 << (k % 64);
            }
        }
        Ok(Self { bitmap, map })
    }
}

/// Simplified variants that scripts use interchangeably, folded to one form after conversion
/// (OpenCC turns `帳戶` into `帐户`, while most texts write `账户`).
///
/// Also the Japanese (shinjitai) forms scam texts borrow to dodge filters, which OpenCC's
/// traditional table leaves alone: 査 証 験 検 脳 覌 戸 単 銭 転 → 查 证 验 检 脑 观 户 单 钱 转, and
/// about a hundred more (none of them in GB 2312, the simplified character set). Folding them
/// here, character by character, keeps them out of the pack's look-alike table, where a
/// one-character key would make the look-alike automaton run on most messages.
pub(super) const VARIANT_FOLDS: &[(char, char)] = &[
    ('帐', '账'),
    ('査', '查'),
    ('証', '证'),
    ('験', '验'),
    ('検', '检'),
    ('脳', '脑'),
    ('覌', '观'),
    ('戸', '户'),
    // More shinjitai of scam vocabulary (単 in 刷単, 銭, 転, 払 in 支払, 険, 実, 価, 続 ...),
    // each outside GB 2312, so no simplified text is changed by them.
    ('単', '单'),
    ('銭', '钱'),
    ('転', '转'),
    ('実', '实'),
    ('価', '价'),
    ('売', '卖'),
    ('続', '续'),
    ('険', '险'),
    ('済', '济'),
    ('経', '经'),
    ('関', '关'),
    ('図', '图'),
    ('団', '团'),
    ('営', '营'),
    ('伝', '传'),
    ('応', '应'),
    ('発', '发'),
    ('収', '收'),
    ('対', '对'),
    ('変', '变'),
    ('広', '广'),
    ('歩', '步'),
    ('駅', '驿'),
    ('覧', '览'),
    ('楽', '乐'),
    ('薬', '药'),
    ('気', '气'),
    ('黒', '黑'),
    ('読', '读'),
    ('戦', '战'),
    ('労', '劳'),
    ('帰', '归'),
    ('県', '县'),
    ('圧', '压'),
    ('拠', '据'),
    ('悪', '恶'),
    ('亜', '亚'),
    ('縦', '纵'),
    ('従', '从'),
    ('処', '处'),
    ('剣', '剑'),
    ('闘', '斗'),
    ('徳', '德'),
    ('聴', '听'),
    ('栄', '荣'),
    ('塩', '盐'),
    ('囲', '围'),
    ('緑', '绿'),
    ('沢', '泽'),
    ('恵', '惠'),
    ('弾', '弹'),
    ('鉄', '铁'),
    ('竜', '龙'),
    ('亀', '龟'),
    ('払', '付'),
    ('紹', '绍'),
    ('絡', '络'),
    ('録', '录'),
    ('様', '样'),
    ('権', '权'),
    ('歳', '岁'),
    ('齢', '龄'),
    ('乗', '乘'),
    ('剰', '剩'),
    ('挙', '举'),
    ('蔵', '藏'),
    ('臓', '脏'),
    ('贈', '赠'),
    ('絵', '绘'),
    ('縁', '缘'),
    ('顔', '颜'),
    ('軽', '轻'),
    ('鶏', '鸡'),
    ('児', '儿'),
    ('黙', '默'),
    ('畳', '叠'),
    ('譲', '让'),
    ('醸', '酿'),
    ('嬢', '娘'),
    ('壌', '壤'),
    ('髪', '发'),
    ('抜', '拔'),
    ('帯', '带'),
    ('粛', '肃'),
    ('猟', '猎'),
    ('獣', '兽'),
    ('両', '两'),
    ('満', '满'),
    ('渓', '溪'),
    ('渋', '涩'),
    ('渇', '渴'),
    ('謁', '谒'),
    ('掲', '揭'),
    ('殻', '壳'),
    ('穀', '谷'),
    ('郷', '乡'),
    ('響', '响'),
    ('暁', '晓'),
    ('焼', '烧'),
    ('曽', '曾'),
    ('増', '增'),
    ('層', '层'),
];

/// Per-process tables: traditional → simplified, and the results of steps 1–3 for every
/// three-byte character (U+0800–U+FFFF), computed once from the per-character definition.
#[derive(Debug)]
pub(super) struct Tables {
    pub(super) t2s: T2s,
    /// Per code point below U+10000: 0 when the character needs the full definition (it folds to
    /// several characters or a combining mark), else the character it becomes (low 24 bits) and
    /// its [`Class`] code (high 8 bits).
    pub(super) fold3: Box<[u32]>,
    /// Per code point below U+10000 (bit `cp % 64` of word `cp / 64`): a three-byte CJK character
    /// that becomes itself.
    pub(super) plain3: Box<[u64; 1024]>,
}

impl Tables {
    pub(super) fn build() -> Result<Self, TextError> {
        let t2s = T2s::build()?;
        let mut fold3 = vec![0u32; 0x10000].into_boxed_slice();
        let mut plain3 = Box::new([0u64; 1024]);
        for cp in 0x800u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let mut steps = [Step::Char('\0'); 2];
            let mut n = 0usize;
            fold_steps(c, |step| {
                if let Some(slot) = steps.get_mut(n) {
                    *slot = step;
                }
                n += 1;
            });
            let [first, _] = steps;
            let (1, Step::Char(d)) = (n, first) else {
                continue;
            };
            let class = class(d);
            let to = if class == Class::Cjk { t2s.get(d) } else { d };
            if let Some(entry) = fold3.get_mut(cp as usize) {
                *entry = (to as u32) | (class.code() << 24);
            }
            if class == Class::Cjk && to == c {
                if let Some(word) = plain3.get_mut((cp / 64) as usize) {
                    *word |= 1u64 << (cp % 64);
                }
            }
        }
        Ok(Self { t2s, fold3, plain3 })
    }

    /// What the three-byte character `cp` becomes, when it is a single character.
    #[inline]
    pub(super) fn fold3(&self, cp: u32) -> Option<(char, Class)> {
        let entry = *self.fold3.get(cp as usize)?;
        let class = Class::from_code(entry >> 24)?;
        Some((char::from_u32(entry & OFFSET_MASK)?, class))
    }
}

/// Builds the per-process tables now if they are not yet built (a few tens of milliseconds, once):
/// the pack loader does it on another thread while it reads the number lists.
pub(crate) fn build_tables() {
    let _ = tables();
}

pub(super) fn tables() -> Result<&'static Tables, TextError> {
    static TABLES: OnceLock<Result<Tables, TextError>> = OnceLock::new();
    TABLES
        .get_or_init(Tables::build)
        .as_ref()
        .map_err(Clone::clone)
}
