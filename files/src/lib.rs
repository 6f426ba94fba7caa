//! The market's files: order files (`time,user,symbol,side,type,quantity,
//! limit_price`) and price files (`Time,Stock,Price`), read with
//! line-numbered errors, and seeded sample files of both. Pure parsing and
//! formatting over `Read` and `Write`: the API's import and export tasks,
//! `marketsim replay` and `marketsim sample` share them.

pub mod csv;
pub mod sample;
