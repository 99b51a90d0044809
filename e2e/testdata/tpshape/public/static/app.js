console.log("tpshape");
