// What napi-build does on Linux: keep the addon mapped after dlclose, because Node unloads
// addons at worker exit while threads the addon started (waits, stdio pumps) may still run its
// code; the napi_* symbols stay undefined and resolve against the node binary at load time.
// And the monitor protocol's version: a hash of the file that defines it (src/detach/wire.rs),
// so that an addon and a monitor from different builds recognise each other as such.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    let wire = "src/detach/wire.rs";
    println!("cargo:rerun-if-changed={wire}");
    let source = std::fs::read(wire).expect("src/detach/wire.rs is readable");
    // FNV-1a: std has no stable hash of fixed output across Rust versions.
    let hash = source.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    println!("cargo:rustc-env=BERTH_WIRE_HASH={hash:016x}");
}
