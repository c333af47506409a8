import Foundation

/// A test server written in Python, run as a child process in a folder of its own: the
/// program binds a port the kernel picks (port 0, so no other test can take it first) and
/// writes it to the file `ready` (to `ready.tmp` first, then renamed). Its output goes to
/// `server.log` in the folder.
struct PythonServer {
    let port: Int
    let directory: URL
    let process: ChildProcess

    /// Starts `program` with the folder's path, then `arguments`; waits (30 s at most) for
    /// its port. `missingModule` names what to install when the program exits with status 3.
    static func start(_ name: String, program: String, arguments: [String] = [], missingModule: String? = nil) async throws -> PythonServer {
        guard let python = Backends.executable("python3") else { throw MissingBackend("python3 is not on PATH") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("server.py")
        try Data(program.utf8).write(to: script)
        let process = try ChildProcess(
            python,
            arguments: [script.path, directory.path] + arguments,
            environment: ProcessInfo.processInfo.environment,
            output: directory.appendingPathComponent("server.log").path
        )
        let ready = directory.appendingPathComponent("ready")
        for _ in 0..<600 where process.isRunning && !FileManager.default.fileExists(atPath: ready.path) {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let text = try? String(contentsOf: ready, encoding: .utf8), let port = Int(text) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let log = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            if process.terminationStatus == 3, let missingModule { throw MissingBackend("python3 cannot import \(missingModule)") }
            throw MissingBackend("the \(name) server did not start: \(log)")
        }
        return PythonServer(port: port, directory: directory, process: process)
    }

    /// The lines a program ends with to serve `server` and report its port.
    static let serveAndReport = """
        with open(os.path.join(folder, "ready.tmp"), "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(os.path.join(folder, "ready.tmp"), os.path.join(folder, "ready"))
        server.serve_forever()
        """

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
