// StorageCatalog
