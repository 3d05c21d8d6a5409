#!/usr/bin/python3
"""Writes the fixtures of tests/image_test.c: small photographs and, for each
(image, preprocessing config), what timm's eval transform makes of them.

Run with Debian's python3 (python3-pil, python3-torch, python3-torchvision,
python3-skimage) and a timm checkout on PYTHONPATH, from anywhere:

    PYTHONPATH=/path/to/timm /usr/bin/python3 tests/image/make_fixtures.py

It rewrites tests/image/{*.png,*.jpg,ref/*.npy,cases.json}. The photographs
come from scikit-image's sample data (each one public domain or CC0, as
skimage.data's docstrings say), cut and shrunk with PIL so that the fixtures
stay small while their aspect ratios vary. The references are timm's own
transform (resolve_data_config + create_transform(is_training=False)) run on
PIL.Image.open(path).convert('RGB'), exactly as timm's inference does:

  ref/NAME.CFG.u8.npy  uint8 [H][W][3]: the image after Resize and CenterCrop
  ref/NAME.CFG.f32.npy float32 [3][H][W]: after ToTensor and Normalize
"""
import json
import os
import sys

import numpy as np
import skimage
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

HERE = os.path.dirname(os.path.abspath(__file__))
SKDATA = os.path.join(os.path.dirname(skimage.__file__), 'data')


def src(name):
    return Image.open(os.path.join(SKDATA, name))


def make_images():
    """name -> (file name, how it was made); writes the files."""
    images = {}

    def save(name, im, how, **kw):
        im.save(os.path.join(HERE, name), optimize=True, **kw)
        images[name.rsplit('.', 1)[0]] = {'file': name, 'source': how,
                                          'mode': im.mode, 'width': im.size[0],
                                          'height': im.size[1]}

    lz = Image.Resampling.LANCZOS
    # square RGB
    save('astronaut.png', src('astronaut.png').convert('RGB').resize((128, 128), lz),
         'skimage astronaut.png (public domain), 128x128')
    # landscape 3:2 RGB
    save('chelsea.png', src('chelsea.png').convert('RGB').resize((150, 100), lz),
         'skimage chelsea.png (CC0), 150x100')
    # portrait RGB, odd sizes
    save('coffee.png', src('coffee.png').convert('RGB').crop((150, 0, 410, 400)).resize((91, 140), lz),
         'skimage coffee.png (CC0), cropped to 260x400 and shrunk to 91x140')
    # JPEG (baseline, 4:2:0)
    save('rocket.jpg', src('rocket.jpg').convert('RGB').crop((120, 90, 520, 427)).resize((160, 135), lz),
         'skimage rocket.jpg (public domain), cropped to 400x337, shrunk to 160x135, JPEG quality 90',
         quality=90)
    # JPEG (progressive, 4:4:4), portrait
    save('chelsea_prog.jpg', src('chelsea.png').convert('RGB').crop((60, 0, 300, 300)).resize((96, 120), lz),
         'skimage chelsea.png (CC0), cropped to 240x300, shrunk to 96x120, progressive JPEG 4:4:4 quality 85',
         quality=85, progressive=True, subsampling=0)
    # grayscale (mode L), wide
    save('camera_gray.png', src('camera.png').convert('L').crop((0, 60, 512, 401)).resize((120, 80), lz),
         'skimage camera.png (CC0), grayscale, cropped to 512x341, shrunk to 120x80')
    # grayscale JPEG (one component)
    save('camera_gray.jpg', src('camera.png').convert('L').crop((60, 0, 460, 512)).resize((70, 90), lz),
         'skimage camera.png (CC0), grayscale, cropped to 400x512, shrunk to 70x90, JPEG quality 90',
         quality=90)
    # 16-bit grayscale PNG: PIL opens it as mode I and convert('RGB') clips it at 255
    g16 = np.asarray(src('camera.png').convert('L').crop((0, 100, 512, 356)).resize((64, 32), lz),
                     dtype=np.uint16) * 3
    save('camera_16bit.png', Image.fromarray(g16.astype(np.uint16), 'I;16'),
         'skimage camera.png (CC0), 64x32, 16-bit grayscale with values 3x the 8-bit ones')
    # RGBA with a varying alpha (convert('RGB') drops it)
    rgba = src('chelsea.png').convert('RGB').crop((100, 20, 400, 280)).resize((97, 84), lz).convert('RGBA')
    a = np.asarray(rgba).copy()
    yy, xx = np.mgrid[0:84, 0:97]
    a[..., 3] = ((xx * 255) // 96 ^ (yy * 3)) & 255
    save('chelsea_rgba.png', Image.fromarray(a, 'RGBA'),
         'skimage chelsea.png (CC0), cropped, 97x84, with a synthetic alpha channel')
    # gray + alpha (mode LA)
    la = src('camera.png').convert('L').crop((100, 0, 400, 512)).resize((50, 85), lz).convert('LA')
    b = np.asarray(la).copy()
    b[..., 1] = (np.arange(50)[None, :] * 5) & 255
    save('camera_la.png', Image.fromarray(b, 'LA'),
         'skimage camera.png (CC0), grayscale + synthetic alpha, 50x85')
    # panorama (aspect 4.3)
    save('coffee_wide.png', src('coffee.png').convert('RGB').crop((0, 120, 600, 260)).resize((214, 50), lz),
         'skimage coffee.png (CC0), strip 600x140 shrunk to 214x50')
    # smaller than every target: Resize upsamples
    save('astronaut_tiny.png', src('astronaut.png').convert('RGB').crop((150, 30, 330, 250)).resize((37, 45), lz),
         'skimage astronaut.png (public domain), face 180x220 shrunk to 37x45')
    return images


def cfg_of(model, **overrides):
    """timm's data config for model (pretrained=False: the cfg, not weights)."""
    m = timm.create_model(model, pretrained=False)
    args = {}
    if 'img_size' in overrides:
        s = overrides.pop('img_size')
        args['input_size'] = (3,) + (tuple(s) if isinstance(s, (tuple, list)) else (s, s))
    args.update(overrides)
    return resolve_data_config(args, model=m)


CFGS = {
    # bicubic, crop_pct 0.95 (resnet50's pretrained cfg) at 64x64
    'r50_bicubic_64': ('resnet50', {'img_size': 64}),
    # bilinear, crop_pct 0.875 (vgg16's pretrained cfg) at 64x64
    'vgg16_bilinear_64': ('vgg16', {'img_size': 64}),
    # crop_pct 1.0, mean = std = 0.5 (a ViT at 384 fine-tuned from in21k) at 48x48
    'vit384_pct1_48': ('vit_base_patch16_384.augreg_in21k_ft_in1k', {'img_size': 48}),
    # non-square input: timm's ResizeKeepRatio path (which resizes bilinear)
    'r50_nonsquare_48x64': ('resnet50', {'img_size': (48, 64)}),
    # crop_pct > 1: the resized image is smaller than the crop, CenterCrop pads with 0
    'r50_pct115_48': ('resnet50', {'img_size': 48, 'crop_pct': 1.15}),
    # crop_mode squash (convnext 384 fine-tunes): both sides resized, no aspect kept
    'convnext_squash_56': ('convnext_tiny.fb_in22k_ft_in1k_384', {'img_size': 56, 'crop_pct': 0.9}),
}

MAIN_CFGS = ['r50_bicubic_64', 'vgg16_bilinear_64']
EXTRA_IMAGES = ['chelsea', 'coffee', 'astronaut_tiny', 'coffee_wide']


def main():
    torch.set_num_threads(1)
    os.makedirs(os.path.join(HERE, 'ref'), exist_ok=True)
    images = make_images()
    cfgs = {}
    for key, (model, over) in CFGS.items():
        c = cfg_of(model, **over)
        cfgs[key] = {'model': model,
                     'height': c['input_size'][1], 'width': c['input_size'][2],
                     'crop_pct': c['crop_pct'], 'crop_mode': c['crop_mode'],
                     'interpolation': c['interpolation'],
                     'mean': list(c['mean']), 'std': list(c['std'])}
    cases = []
    for name, info in images.items():
        keys = list(MAIN_CFGS) + ([k for k in CFGS if k not in MAIN_CFGS] if name in EXTRA_IMAGES else [])
        for key in keys:
            c = cfgs[key]
            tf = create_transform(input_size=(3, c['height'], c['width']), is_training=False,
                                  interpolation=c['interpolation'], mean=c['mean'], std=c['std'],
                                  crop_pct=c['crop_pct'], crop_mode=c['crop_mode'])
            steps = tf.transforms
            assert type(steps[-1]).__name__ == 'Normalize', steps
            img = Image.open(os.path.join(HERE, info['file'])).convert('RGB')
            pil = img
            for t in steps[:-2]:  # the resizing and cropping, before ToTensor
                pil = t(pil)
            u8 = np.asarray(pil, dtype=np.uint8)
            f32 = tf(img).numpy().astype(np.float32)
            assert u8.shape == (c['height'], c['width'], 3) and f32.shape == (3, c['height'], c['width'])
            base = f'{name}.{key}'
            np.save(os.path.join(HERE, 'ref', base + '.u8.npy'), np.ascontiguousarray(u8))
            np.save(os.path.join(HERE, 'ref', base + '.f32.npy'), np.ascontiguousarray(f32))
            cases.append({'image': info['file'], 'cfg': key,
                          'u8': f'ref/{base}.u8.npy', 'f32': f'ref/{base}.f32.npy',
                          'transform': repr(tf).replace('\n', ' ')})
    with open(os.path.join(HERE, 'cases.json'), 'w') as f:
        json.dump({'generator': 'tests/image/make_fixtures.py',
                   'versions': {'timm': timm.__version__, 'torch': torch.__version__,
                                'torchvision': __import__('torchvision').__version__,
                                'PIL': Image.__version__, 'numpy': np.__version__},
                   'images': images, 'cfgs': cfgs, 'cases': cases}, f, indent=1)
        f.write('\n')
    print(f'{len(images)} images, {len(cfgs)} configs, {len(cases)} cases', file=sys.stderr)


if __name__ == '__main__':
    main()
