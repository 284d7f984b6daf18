import Crypto
import Foundation

/// The last good contents of each manifest file of a directory, and the snapshot they make together, kept up to
/// date file by file: a change costs the files it touches, not the whole directory.
///
/// An object defined in two files is taken from the later file by name (and reported), whichever changed last.
struct ManifestDirectory {
    struct Outcome {
        var snapshot: ClusterSnapshot
        /// What differs from the previous snapshot.
        var changes: SnapshotChanges
        /// Files read this time: `nil` when accepted, the error when rejected.
        var results: [FileResult]
        /// Objects defined more than once, described with the files that define them (`default/web in a.yaml and
        /// b.yaml; b.yaml's is in force`).
        var duplicates: [String]
        /// Documents of kinds the mesh does not read, per file (`ConfigMap v1 at line 12`), of the files read.
        var ignored: [String: [String]]
    }

    struct FileResult {
        var name: String
        /// `nil`: accepted (or removed).
        var error: ManifestError?
        /// A rejected file had an accepted version, which stays in force.
        var keptPrevious: Bool
    }

    /// A file's accepted contents: a digest of its text (to tell an edit from a touch without keeping the text),
    /// and its objects.
    private struct FileContents {
        var digest: SHA256Digest
        var services: [ObjectKey: ServiceSpec]
        var workloads: [ObjectKey: WorkloadSpec]
        var routes: [RouteObjectID: RouteSpec] = [:]
        var faultInjections: [ObjectKey: FaultInjectionSpec] = [:]
        var backendTrafficPolicies: [ObjectKey: BackendTrafficPolicySpec] = [:]
    }

    let path: String
    private var files: [String: FileContents] = [:]
    /// The digest of files whose newest version was rejected, so one bad version is reported once.
    private var rejected: [String: SHA256Digest] = [:]
    /// Which files define each object, sorted by name: the last one is in force.
    private var serviceOwners: [ObjectKey: [String]] = [:]
    private var workloadOwners: [ObjectKey: [String]] = [:]
    private var routeOwners: [RouteObjectID: [String]] = [:]
    private var faultOwners: [ObjectKey: [String]] = [:]
    private var backendPolicyOwners: [ObjectKey: [String]] = [:]
    private(set) var snapshot = ClusterSnapshot()
    /// A route without `creationTimestamp` is as old as the moment this directory first showed it: its place in
    /// precedence ties (older wins) stays put across edits, as a cluster's would.
    private var firstSeen: [RouteObjectID: Int64] = [:]
    private var nextSeen: Int64

    init(path: String, now: Int64 = Int64(Date().timeIntervalSince1970)) {
        self.path = path
        self.nextSeen = now
    }

    static func isManifest(_ name: String) -> Bool {
        (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasPrefix(".")
    }

    /// Re-reads `names` (every file when nil, noticing files that went away) and updates the snapshot.
    mutating func reload(only names: Set<String>?) -> Outcome {
        var results: [FileResult] = []
        var changes = SnapshotChanges()
        var duplicates: [String] = []
        var ignored: [String: [String]] = [:]
        let candidates: [String]
        if let names {
            candidates = names.filter(Self.isManifest).sorted()
        } else {
            let listed = ((try? FileManager.default.contentsOfDirectory(atPath: self.path)) ?? []).filter(Self.isManifest)
            candidates = Array(Set(listed).union(self.files.keys).union(self.rejected.keys)).sorted()
        }
        for name in candidates {
            let file = self.path + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else {
                if FileManager.default.fileExists(atPath: file) {
                    // Unreadable: keep what we had.
                    results.append(
                        FileResult(
                            name: name, error: ManifestError(.unreadable, file: file, line: 0, "cannot read the file"),
                            keptPrevious: self.files[name] != nil))
                } else if self.files[name] != nil || self.rejected[name] != nil {
                    // Removed: its objects leave the mesh.
                    self.rejected[name] = nil
                    self.replace(name, with: nil, changes: &changes, duplicates: &duplicates)
                    results.append(FileResult(name: name, error: nil, keptPrevious: false))
                }
                continue
            }
            let digest = SHA256.hash(data: data)
            if let known = self.files[name], known.digest == digest {
                if self.rejected.removeValue(forKey: name) != nil {
                    results.append(FileResult(name: name, error: nil, keptPrevious: false))
                }  // reverted
                continue
            }
            if self.rejected[name] == digest { continue }
            do {
                let (objects, skipped) = try ManifestParser.parseReportingIgnored(String(decoding: data, as: UTF8.self), file: file)
                if !skipped.isEmpty { ignored[name] = skipped }
                var contents = FileContents(digest: digest, services: [:], workloads: [:])
                for object in objects {
                    switch object {
                    case .service(let service):
                        if contents.services.updateValue(service, forKey: service.key) != nil {
                            duplicates.append("\(service.key) twice in \(name)")
                        }
                    case .workload(let workload):
                        if contents.workloads.updateValue(workload, forKey: workload.key) != nil {
                            duplicates.append("\(workload.key) twice in \(name)")
                        }
                    case .route(var route):
                        if route.creationTimestamp == nil { route.route.created = self.seen(route.objectID) }
                        if contents.routes.updateValue(route, forKey: route.objectID) != nil {
                            duplicates.append("\(route.objectID) twice in \(name)")
                        }
                    case .faultInjection(let fault):
                        if contents.faultInjections.updateValue(fault, forKey: fault.key) != nil {
                            duplicates.append("FaultInjection \(fault.key) twice in \(name)")
                        }
                    case .backendTrafficPolicy(let policy):
                        if contents.backendTrafficPolicies.updateValue(policy, forKey: policy.key) != nil {
                            duplicates.append("XBackendTrafficPolicy \(policy.key) twice in \(name)")
                        }
                    }
                }
                self.rejected[name] = nil
                self.replace(name, with: contents, changes: &changes, duplicates: &duplicates)
                results.append(FileResult(name: name, error: nil, keptPrevious: false))
            } catch {
                self.rejected[name] = digest
                results.append(FileResult(name: name, error: error, keptPrevious: self.files[name] != nil))
            }
        }
        return Outcome(snapshot: self.snapshot, changes: changes, results: results, duplicates: duplicates, ignored: ignored)
    }

    private mutating func seen(_ id: RouteObjectID) -> Int64 {
        if let known = self.firstSeen[id] { return known }
        self.nextSeen += 1
        self.firstSeen[id] = self.nextSeen
        return self.nextSeen
    }

    /// Puts a file's new contents (or its removal) in force, object by object.
    private mutating func replace(_ name: String, with contents: FileContents?, changes: inout SnapshotChanges, duplicates: inout [String])
    {
        let old = self.files[name]
        self.files[name] = contents
        self.merge(
            \.services, owners: \.serviceOwners, into: \.services, changed: \.services, file: name, old: old, changes: &changes,
            duplicates: &duplicates)
        self.merge(
            \.workloads, owners: \.workloadOwners, into: \.workloads, changed: \.workloads, file: name, old: old, changes: &changes,
            duplicates: &duplicates)
        self.merge(
            \.routes, owners: \.routeOwners, into: \.routes, changed: \.routes, file: name, old: old, changes: &changes,
            duplicates: &duplicates)
        self.merge(
            \.faultInjections, owners: \.faultOwners, into: \.faultInjections, changed: \.faultInjections, file: name, old: old,
            changes: &changes,
            duplicates: &duplicates
        )
        self.merge(
            \.backendTrafficPolicies, owners: \.backendPolicyOwners, into: \.backendTrafficPolicies, changed: \.backendTrafficPolicies,
            file: name,
            old: old, changes: &changes, duplicates: &duplicates
        )
    }

    /// For one kind of object: each key the file defined before or defines now goes to the file in force for it.
    private mutating func merge<Key: Hashable & CustomStringConvertible, Object: Equatable>(
        _ objects: KeyPath<FileContents, [Key: Object]>, owners: WritableKeyPath<ManifestDirectory, [Key: [String]]>,
        into current: WritableKeyPath<ClusterSnapshot, [Key: Object]>, changed: WritableKeyPath<SnapshotChanges, Set<Key>>,
        file name: String, old: FileContents?, changes: inout SnapshotChanges, duplicates: inout [String]
    ) {
        let now = self.files[name]
        for key in Set(old?[keyPath: objects].keys.map { $0 } ?? []).union(now?[keyPath: objects].keys.map { $0 } ?? []) {
            let winner = Self.own(
                key, by: name, defines: now?[keyPath: objects][key] != nil, in: &self[keyPath: owners], duplicates: &duplicates)
            let next = winner.flatMap { self.files[$0]?[keyPath: objects][key] }
            if self.snapshot[keyPath: current][key] != next {
                self.snapshot[keyPath: current][key] = next
                changes[keyPath: changed].insert(key)
            }
        }
    }

    /// Records whether `file` defines `key`; returns the file in force for it (the last by name), if any.
    private static func own<Key: Hashable & CustomStringConvertible>(
        _ key: Key, by file: String, defines: Bool, in owners: inout [Key: [String]], duplicates: inout [String]
    ) -> String? {
        var list = owners[key] ?? []
        list.removeAll { $0 == file }
        if defines {
            list.append(file)
            list.sort()
            if list.count > 1 { duplicates.append("\(key) in \(list.joined(separator: " and ")); \(list.last!)'s is in force") }
        }
        owners[key] = list.isEmpty ? nil : list
        return list.last
    }
}

/// The keys of the objects that differ between two snapshots.
public struct SnapshotChanges: Sendable {
    public var services = Set<ObjectKey>()
    public var workloads = Set<ObjectKey>()
    public var routes = Set<RouteObjectID>()
    public var faultInjections = Set<ObjectKey>()
    public var endpointSlices = Set<ObjectKey>()
    public var backendTrafficPolicies = Set<ObjectKey>()

    public init() {}

    public var isEmpty: Bool {
        self.services.isEmpty && self.workloads.isEmpty && self.routes.isEmpty && self.faultInjections.isEmpty
            && self.endpointSlices.isEmpty
            && self.backendTrafficPolicies.isEmpty
    }

    /// Whether what changed can change a Service port's policy.
    public var touchesPolicy: Bool {
        !self.routes.isEmpty || !self.services.isEmpty || !self.faultInjections.isEmpty || !self.backendTrafficPolicies.isEmpty
    }
}
