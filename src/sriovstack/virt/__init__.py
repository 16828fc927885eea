"""The hypervisor seam: guests with VFs, libvirt domain XML, the libvirt and simulated drivers."""
