"""OSV records (osv.dev's format: the kernel CNA's upstream records, Debian's, Ubuntu's, the EL errata) turned
into draft advisories for the HBA modules they touch (``convert``); which modules a record touches
(``modules``); a record read field by field (``record``); where its ranges apply (``ranges``)."""
