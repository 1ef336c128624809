//! liftkit's integration tests, one binary (the crate is linked once): real daemons, real ELF
//! files, real podman and qemu, real validators. One module per area; shared helpers below.

mod browser;
mod common;
mod oci_common;
mod safety_common;

mod analyzers_cli;
mod ansible_collect;
mod bad_files;
mod cli_errors;
mod collect_churn;
mod collect_live;
mod collect_parsers;
mod companions;
mod elf_against_ldd;
mod elf_fuzz;
mod elf_hostile;
mod elf_root;
mod evidence_generic;
mod fixtures;
mod flat_memory;
mod fleet_batch;
mod gentle;
mod hostile;
mod hostimage_errors;
mod hostimage_qemu;
mod lift_nginx;
mod lift_redis;
mod linuxkit_schema;
mod loader_fuzz;
mod oci_layer;
mod oci_tools;
mod readonly;
mod report_browser;
mod report_golden;
mod secrets;
mod stack_apache_php;
mod stack_postgres;
mod stack_python;
mod stack_tomcat;
mod stages;
mod static_chroot;
mod systemd_unit;
mod vendor_app;
mod verify;
mod wizard_tty;
