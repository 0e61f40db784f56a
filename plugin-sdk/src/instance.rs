//! How a transform instance crosses the boundary: one allocation holding a
//! pointer to its type's operations and the transform itself, handed to
//! the host as an opaque pointer and only ever interpreted by this SDK
//! (the plugin's own `transform_event` and `transform_destroy`).
//!
//! A `Box<dyn Transform>` is a fat pointer, so passing it as one `void *`
//! would need a second box around it; the operations header makes the
//! pointer thin with a single allocation per instance (none for a
//! zero-sized transform's value beyond the header).

use std::ffi::c_void;

use crate::vconn::Transform;

/// The operations of one transform type.
struct Ops {
    as_dyn: unsafe fn(*mut c_void) -> *mut dyn Transform,
    drop: unsafe fn(*mut c_void),
}

/// The allocation behind an instance pointer: `ops` first, at offset 0
/// whatever `T` is, so it can be read before the type is known.
#[repr(C)]
struct Thin<T> {
    ops: &'static Ops,
    value: T,
}

impl<T: Transform> Thin<T> {
    const OPS: Ops = Ops { as_dyn: Self::as_dyn, drop: Self::drop };

    /// # Safety
    /// `p` is a live `Thin<T>` from [`into_raw`].
    unsafe fn as_dyn(p: *mut c_void) -> *mut dyn Transform {
        // SAFETY: as the caller promises.
        unsafe { &mut (*(p as *mut Thin<T>)).value as *mut T as *mut dyn Transform }
    }

    /// # Safety
    /// `p` is a live `Thin<T>` from [`into_raw`], dropped once.
    unsafe fn drop(p: *mut c_void) {
        // SAFETY: as the caller promises.
        drop(unsafe { Box::from_raw(p as *mut Thin<T>) });
    }
}

/// Moves `transform` into a new instance; the pointer is the caller's to
/// pass to [`as_transform`] and, once, to [`destroy`].
pub(crate) fn into_raw<T: Transform>(transform: T) -> *mut c_void {
    Box::into_raw(Box::new(Thin { ops: &Thin::<T>::OPS, value: transform })) as *mut c_void
}

fn ops_of(instance: *mut c_void) -> &'static Ops {
    // SAFETY: every instance pointer is a `Thin<_>`, whose first field is
    // `ops` (repr(C)); callers guarantee it is live.
    unsafe { *(instance as *const &'static Ops) }
}

/// The transform behind `instance`.
///
/// # Safety
/// `instance` came from [`into_raw`], is live, and is not borrowed elsewhere
/// for `'a`.
pub(crate) unsafe fn as_transform<'a>(instance: *mut c_void) -> &'a mut dyn Transform {
    // SAFETY: as the caller promises.
    unsafe { &mut *(ops_of(instance).as_dyn)(instance) }
}

/// Drops the transform behind `instance` and frees it.
///
/// # Safety
/// `instance` came from [`into_raw`], is live, and is destroyed once.
pub(crate) unsafe fn destroy(instance: *mut c_void) {
    // SAFETY: as the caller promises.
    unsafe { (ops_of(instance).drop)(instance) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vconn::TransformCx;
    use crate::Event;
    use std::rc::Rc;

    /// Holds a count on `alive` for as long as it lives.
    struct Counted {
        _alive: Rc<()>,
    }
    impl Transform for Counted {
        fn on_event(&mut self, _cx: &mut TransformCx<'_>, _event: Event) {}
    }

    #[test]
    fn an_instance_drops_its_transform_once_when_destroyed() {
        let alive = Rc::new(());
        let raw = into_raw(Counted { _alive: alive.clone() });
        // SAFETY: live, not borrowed elsewhere.
        let t: *mut dyn Transform = unsafe { as_transform(raw) };
        assert_eq!(t as *mut u8 as usize - raw as usize, std::mem::size_of::<usize>(), "the value follows the header");
        assert_eq!(Rc::strong_count(&alive), 2);
        // SAFETY: live, destroyed once.
        unsafe { destroy(raw) };
        assert_eq!(Rc::strong_count(&alive), 1);
    }
}
