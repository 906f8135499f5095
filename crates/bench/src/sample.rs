//! The records every ingestion phase sends: a realistic client record of about 1 KB (the
//! reference's `client` record, with an account, invoices and where it came from), in
//! [`VARIANTS`] variants that differ in their values. They are generated and serialized once, so
//! that no phase pays for JSON encoding on the client side, and every phase stores the same data.

use bytes::Bytes;
use serde_json::{Value, json};

/// How many different records the phases cycle through; also the size of a batch.
pub const VARIANTS: usize = 100;

/// Value pools, shared with the search loader so that loaded records look like ingested ones.
pub const FIRST_NAMES: [&str; 20] = [
    "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Mila", "Finn", "Tess", "Levi", "Sophie",
    "Noah", "Zoe", "Milan", "Lotte", "Jesse", "Eva", "Thijs", "Anna", "Bram",
];
pub const LAST_NAMES: [&str; 20] = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
];
pub const CITIES: [&str; 20] = [
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Enschede",
    "Amersfoort",
    "Zaanstad",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Dordrecht",
];
const STREETS: [&str; 8] = [
    "Oudegracht",
    "Kerkstraat",
    "Stationsweg",
    "Dorpsstraat",
    "Molenweg",
    "Schoolstraat",
    "Julianalaan",
    "Beatrixstraat",
];
const CHANNELS: [&str; 4] = ["webform", "email", "phone", "partner-api"];
const PAYMENT_METHODS: [&str; 3] = ["direct_debit", "ideal", "invoice"];

/// The records of a run, ready to send.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Each variant as JSON text, for the raw inserts.
    pub texts: Vec<String>,
    /// The same texts as request bodies of single-record requests.
    pub bodies: Vec<Bytes>,
    /// Every variant in one JSON array: the body of a batch request.
    pub batch: Bytes,
}

impl Samples {
    pub fn generate() -> Samples {
        let texts: Vec<String> = (0..VARIANTS as u64)
            .map(|n| record(n).to_string())
            .collect();
        let bodies = texts.iter().map(|text| Bytes::from(text.clone())).collect();
        let batch = Bytes::from(format!("[{}]", texts.join(",")));
        Samples {
            texts,
            bodies,
            batch,
        }
    }

    /// The average size of a record, in bytes.
    pub fn average_bytes(&self) -> usize {
        self.texts.iter().map(String::len).sum::<usize>() / self.texts.len().max(1)
    }
}

/// The `n`th record: the same `n` always gives the same record.
pub fn record(n: u64) -> Value {
    let mut random = SplitMix64(n);
    let first = pick(&mut random, &FIRST_NAMES);
    let last = pick(&mut random, &LAST_NAMES);
    let email_name = format!("{first}.{last}").to_lowercase().replace(' ', ".");
    let dossier = random.below(10_000_000);
    let invoices: Vec<Value> = (1..=3)
        .map(|month| {
            let number = random.below(1_000_000);
            json!({
                "invoice_date": format!("2026-{month:02}-{:02}", 1 + random.below(28)),
                "invoice_number": format!("INV-2026-{number:06}"),
                "amount": format!("{}.{:02}", 20 + random.below(480), random.below(100)),
                "expiration_date": format!("2026-{:02}-{:02}", month + 1, 1 + random.below(28)),
                "paid": random.below(4) != 0,
            })
        })
        .collect();
    json!({
        "client": {
            "uuid": pseudo_uuid(&mut random),
            "name": format!("{first} {last}"),
            "email": format!("{email_name}.{n}@example.nl"),
            "phone": format!("+31 6 {:04} {:04}", random.below(10_000), random.below(10_000)),
            "street": pick(&mut random, &STREETS),
            "house_number": (1 + random.below(240)).to_string(),
            "postcode": format!("{} {}{}", 1000 + random.below(9000), letter(&mut random), letter(&mut random)),
            "city": pick(&mut random, &CITIES),
            "country": "NL",
            "age": 18 + random.below(70),
            "newsletter": random.below(2) == 0,
            "accounts": [{
                "dossier_no": format!("D-{dossier:07}"),
                "iban": format!("NL{:02}ABNA{:010}", 10 + random.below(90), random.below(10_000_000_000)),
                "bic": "ABNANL2A",
                "payment_method": pick(&mut random, &PAYMENT_METHODS),
                "invoices": invoices,
            }],
        },
        "source": {
            "channel": pick(&mut random, &CHANNELS),
            "campaign": "autumn-2026",
            "post_id": format!("p-{}", random.below(1_000_000)),
            "post_text": "Question about my last invoice: the amount differs from the offer I accepted.",
            "post_url": format!("https://www.example.nl/contact?ref={}", random.below(1_000_000)),
        },
        "tags": ["customer", "invoice", "priority-normal"],
    })
}

fn pick<'a>(random: &mut SplitMix64, pool: &[&'a str]) -> &'a str {
    let index = usize::try_from(random.below(pool.len() as u64)).unwrap_or(0);
    pool.get(index).copied().unwrap_or_default()
}

fn letter(random: &mut SplitMix64) -> char {
    char::from(b'A' + u8::try_from(random.below(26)).unwrap_or(0))
}

fn pseudo_uuid(random: &mut SplitMix64) -> String {
    let high = random.next();
    let low = random.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        0x8000 | ((low >> 48) & 0x3fff),
        low & 0xffff_ffff_ffff
    )
}

/// A small, fast, deterministic generator (SplitMix64): good enough to vary test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_about_one_kilobyte_and_deterministic() {
        let samples = Samples::generate();
        let size = samples.average_bytes();
        assert!((950..=1150).contains(&size), "average record size {size}");
        assert_eq!(record(7), record(7));
        assert_ne!(record(7), record(8));
    }

    #[test]
    fn the_batch_is_the_variants_in_one_array() {
        let samples = Samples::generate();
        let batch: Value = serde_json::from_slice(&samples.batch).unwrap_or_default();
        assert_eq!(batch.as_array().map(Vec::len), Some(VARIANTS));
        assert_eq!(batch[3], record(3));
    }
}
