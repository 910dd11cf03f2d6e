"""Numba kernels: numpy arrays in, numpy arrays out. Import inside command functions."""
