// What napi-build does on Linux: keep the addon mapped after dlclose, because Node unloads
// addons at worker exit while threads the addon started (waits, stdio pumps) may still run its
// code; the napi_* symbols stay undefined and resolve against the node binary at load time.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
