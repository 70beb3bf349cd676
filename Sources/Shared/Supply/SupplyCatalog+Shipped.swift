extension SupplyCatalog {
    /// The catalog shipped in the package.
    public static let shipped: SupplyCatalog = try! SupplyCatalog(json: PackageResources.catalog_json)
}
