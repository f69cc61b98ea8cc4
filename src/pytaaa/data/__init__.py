"""Quote data: the PyTAAA HDF5 store, CSV import, the synthetic universe.

- :mod:`~pytaaa.data.store`: read and write a store (:func:`~pytaaa.data.store.read_store`),
  symbols file, company names, index changes, CSV import, optional download.
- :mod:`~pytaaa.data.hdf5`: the HDF5 layout PyTAAA writes (PyTables).
- :mod:`~pytaaa.data.synth`: a deterministic synthetic universe and workspace.
"""
