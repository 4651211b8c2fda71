//! Builds the embedded Lua 5.1 (vendor/lua-5.1.5, patched for read-only tables: see
//! vendor/lua-5.1.5/PATCHES.md). mlua links against it through mlua-sys's `external` feature.
fn main() {
    let dir = std::path::Path::new("vendor/lua-5.1.5");
    let mut build = cc::Build::new();
    build
        .include(dir)
        .warnings(false)
        .flag_if_supported("-fno-common")
        .opt_level(2);
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        build.define("LUA_USE_LINUX", None);
    } else {
        build.define("LUA_USE_POSIX", None);
    }
    for entry in std::fs::read_dir(dir).expect("vendor/lua-5.1.5") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "c") {
            println!("cargo:rerun-if-changed={}", path.display());
            build.file(path);
        }
    }
    println!("cargo:rerun-if-changed=vendor/lua-5.1.5");
    println!("cargo:rerun-if-changed=build.rs");
    build.compile("lua5.1");
}
