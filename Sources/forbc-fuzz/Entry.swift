import Foundation

#if FORBC_FUZZ
    /// libFuzzer's entry point (Tests/Fuzz/run builds this target with `-sanitize=fuzzer -DFORBC_FUZZ`).
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    /// libFuzzer's driver: its `main` under another name, since SwiftPM names this executable's entry point.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// libFuzzer's command line; with `FORBC_FUZZ_REPLAY=1` in the environment, the replay tool instead.
    @main
    struct FuzzMain {
        static func main() {
            if ProcessInfo.processInfo.environment["FORBC_FUZZ_REPLAY"] == "1" {
                exit(Replay.main(Array(CommandLine.arguments.dropFirst())))
            }
            _ = FuzzHosts.all  // discovery of every host, before libFuzzer times the first input
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        }
    }
#else
    /// Without libFuzzer (the normal build): the replay tool, or how to fuzz.
    @main
    struct ReplayMain {
        static func main() {
            if CommandLine.arguments.count < 2 {
                print("usage: forbc-fuzz [--summary] FILE|DIR...   (runs the fuzz target once over each input, timed)")
                print("To fuzz with libFuzzer: bash Tests/Fuzz/run [SECONDS]")
                return
            }
            exit(Replay.main(Array(CommandLine.arguments.dropFirst())))
        }
    }
#endif
